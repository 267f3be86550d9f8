// @reconvla/reconvla/sim: the tabletop adapter (training batches from its datasets, captioned
// random scenes for the vision stage, the vocabulary and state ranges, the evaluate() policy).
export { tabletopSource, episodeBatches, datasetInstructions, type EpisodeBatches, type TabletopSourceOptions } from './dataset.ts';
export { datasetAccuracy, type DatasetAccuracy, type EpisodeAccuracy } from './dataset_accuracy.ts';
export { tabletopVocabulary, tabletopStateRange } from './vocabulary.ts';
export { reconvlaPolicy, observationViews, trueGrounding, type GroundingSource, type PolicyOptions } from './policy.ts';
export { sceneCaptionSource, sceneCaptionStage, randomCaptionScene, checkSceneCaptionOptions, type SceneCaptionOptions } from './scene_captions.ts';
