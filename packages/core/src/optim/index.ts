// optim: optimizers, gradient clipping and learning-rate schedules.
export { Optimizer, type BaseHyper, type ParamGroup, type ParamsInput, type ParamState, type OptimizerStateDict, type SavedParamGroup } from './optimizer.ts';
export { AdamW, type AdamWHyper, type AdamWOptions, type AdamWState } from './adamw.ts';
export { SGD, type SGDHyper, type SGDState } from './sgd.ts';
export { clipGradNorm } from './clip_grad.ts';
export { warmupCosine, LRScheduler, type Schedule, type WarmupCosineOptions } from './schedules.ts';
export { flattenOptimizerState, unflattenOptimizerState } from './checkpoint.ts';
