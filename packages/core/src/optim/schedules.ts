// Learning-rate schedules: a schedule is a plain function of the step, and LRScheduler applies
// one to an optimizer's groups (like torch.optim.lr_scheduler.LambdaLR over each group's base lr).
import type { BaseHyper, Optimizer, ParamState } from './optimizer.ts';

/** The learning rate at a step, given the group's base (initial) learning rate. */
export type Schedule = (step: number, baseLr: number) => number;

export interface WarmupCosineOptions {
  /** Steps of linear warmup from 0 to the base lr. */
  warmupSteps: number;
  /** The step at which the cosine reaches minLr (it stays there afterwards). */
  totalSteps: number;
  /** The floor of the decay; default 0. */
  minLr?: number;
}

/**
 * Linear warmup then cosine decay, as transformers' get_cosine_schedule_with_warmup with a
 * floor: lr = base * step / warmup for step < warmup, then
 * minLr + (base - minLr) * (1 + cos(pi * progress)) / 2 with progress going 0 -> 1 from the
 * end of warmup to totalSteps. Step 0 gives 0 when there is a warmup.
 */
export function warmupCosine(opts: WarmupCosineOptions): Schedule {
  const { warmupSteps, totalSteps } = opts, minLr = opts.minLr ?? 0;
  if (!(warmupSteps >= 0 && totalSteps >= warmupSteps)) throw new RangeError(`warmupCosine: need 0 <= warmupSteps (${warmupSteps}) <= totalSteps (${totalSteps})`);
  return (step, baseLr) => {
    if (step < warmupSteps) return (baseLr * step) / warmupSteps;
    const progress = Math.min(1, (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps));
    return minLr + (baseLr - minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
  };
}

/** Sets each group's lr to schedule(step, that group's initial lr): now, and on every step(). */
export class LRScheduler {
  /** The number of step() calls so far. */
  lastStep = 0;
  readonly baseLrs: number[];

  constructor(readonly optimizer: Optimizer<BaseHyper, ParamState>, readonly schedule: Schedule) {
    this.baseLrs = optimizer.paramGroups.map((g) => g.lr);
    this.apply();
  }

  /** Call after optimizer.step(): advances one step and sets the new learning rates. */
  step(): void {
    this.lastStep++;
    this.apply();
  }

  /** The learning rate of each group now. */
  lastLr(): number[] { return this.optimizer.paramGroups.map((g) => g.lr); }

  stateDict(): { lastStep: number; baseLrs: number[] } { return { lastStep: this.lastStep, baseLrs: [...this.baseLrs] }; }
  loadStateDict(sd: { lastStep: number; baseLrs: number[] }): void {
    if (sd.baseLrs.length !== this.baseLrs.length) throw new Error(`LRScheduler.loadStateDict: ${sd.baseLrs.length} base lrs for ${this.baseLrs.length} param groups`);
    this.lastStep = sd.lastStep;
    this.baseLrs.splice(0, this.baseLrs.length, ...sd.baseLrs);
    this.apply();
  }

  private apply(): void {
    this.optimizer.paramGroups.forEach((g, i) => { g.lr = this.schedule(this.lastStep, this.baseLrs[i]!); });
  }
}
