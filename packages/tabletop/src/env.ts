// TabletopEnv: the simulator behind one object. Holds the world state, the current task
// and a renderer; step() applies an action and reports whether the task is done.
import { boxOf, gazeIds } from './gaze.ts';
import type { GazeBoxes, Observation } from './observation.ts';
import { proprioOf } from './observation.ts';
import { sanitizeAction, stepWorld, type Action } from './physics.ts';
import { Renderer, type CameraSizes } from './render.ts';
import { Rng } from './rng.ts';
import { checkSceneOptions, sampleScene, type SceneOptions } from './scene.ts';
import { beginTask, isSuccess, type ActiveTask, type TaskSpec } from './tasks.ts';
import type { WorldState } from './world.ts';

export interface EnvOptions extends SceneOptions, CameraSizes {
  /** Render camera images (default true). Without, observations carry empty images but still gaze boxes. */
  render?: boolean;
}

export interface StepResult {
  observation: Observation;
  /** The current task's success detector fired. */
  success: boolean;
}

export class TabletopEnv {
  state: WorldState;
  task: ActiveTask | null = null;
  readonly options: EnvOptions;
  private renderer: Renderer;
  private taskSteps = 0;

  constructor(options: EnvOptions, state?: WorldState) {
    checkSceneOptions(options);
    this.options = options;
    this.renderer = new Renderer(options);
    this.state = state ? structuredClone(state) : sampleScene(new Rng(0), options);
  }

  /** A fresh scene drawn from `seed`. */
  reset(seed: number): Observation {
    this.state = sampleScene(new Rng(seed), this.options);
    this.task = null;
    this.taskSteps = 0;
    return this.observe();
  }

  /** Continue from a given state (copied). */
  setState(state: WorldState): Observation {
    this.state = structuredClone(state);
    this.task = null;
    this.taskSteps = 0;
    return this.observe();
  }

  /**
   * Start a task in the current state; throws, naming the problem, when it cannot be asked
   * here. `strict = false` skips the room check of pushes (see taskProblem).
   */
  setTask(spec: TaskSpec, strict = true): ActiveTask {
    this.task = beginTask(this.state, spec, strict);
    this.taskSteps = 0;
    return this.task;
  }

  step(action: Action): StepResult {
    stepWorld(this.state, sanitizeAction(action));
    this.taskSteps++;
    const success = this.task ? isSuccess(this.state, this.task) : false;
    return { observation: this.observe(), success };
  }

  isSuccess(): boolean {
    return this.task ? isSuccess(this.state, this.task) : false;
  }

  observe(): Observation {
    const views = this.renderer.render(this.state, this.options.render !== false);
    const ids = gazeIds(this.state, this.task);
    const gaze: GazeBoxes = { static: boxOf(views.static, ids.focus), gripper: boxOf(views.gripper, ids.focus) };
    const gazeWhole: GazeBoxes = { static: boxOf(views.static, ids.whole), gripper: boxOf(views.gripper, ids.whole) };
    const draw = this.options.render !== false;
    return {
      static: { width: views.static.width, height: views.static.height, rgb: draw ? views.static.rgb.slice() : new Uint8Array(0) },
      gripper: { width: views.gripper.width, height: views.gripper.height, rgb: draw ? views.gripper.rgb.slice() : new Uint8Array(0) },
      proprio: proprioOf(this.state),
      gaze,
      gazeWhole,
      step: this.taskSteps,
      privileged: { state: this.state, task: this.task },
    };
  }
}
