// @reconvla/reconvla: the ReconVLA model, its training stages and inference. The tabletop
// adapter (dataset batches, the evaluate() policy) is the separate entry '@reconvla/reconvla/sim'.
export { parseReconVLAConfig, FIRST_WORD_ID, type ReconVLAConfig, type ActionTokenizerConfig, type PromptConfig, type PromptLayout, type AblationConfig, type CameraView, type StateEncoding, type Json } from './config.ts';
export { ActionTokenizer } from './action_tokenizer.ts';
export { WordTokenizer, WORD_SPECIALS, splitWords } from './word_tokenizer.ts';
export { buildPromptIds, maskLabels, collatePrompts, type PromptParts, type PromptBatch } from './prompt.ts';
export { planSplice, spliceEmbeddings, imagePositions, type SplicePlan } from './splice.ts';
export { resizeBilinear, bilinearWeights } from './resize.ts';
export { ReconVLA, type ReconInputs, type ReconOutputs, type VaeTarget, type InitOptions } from './model.ts';
export { Processor, groundingOf, type Sample } from './processor.ts';
export { tinyConfigJson, type TinyConfigOptions } from './tiny_config.ts';
export { savePretrained, loadPretrained, loadPretrainedWithReport, decoderWasInitialised, VAE_DECODER_PREFIX, type LoadPretrainedOptions } from './pretrained.ts';
export { reconVLAConfigToJson, writeConfigJson, upstreamConfigKeys, wordTokenizerJson, checkStoredWordIds } from './config_json.ts';
export { batchFromTensors, batchFromArrays, type TensorBatch, type ArrayBatch, type BatchOptions, type IdsTensor } from './batch.ts';
export { formatLoadReport, type LoadReport } from '@reconvla/qwen2';
export { predictActions, chooseActionId, type ActionDecoding, type Prediction } from './inference/predict.ts';
export { Trainer, TrainingStopped, NonFiniteLossError, type TrainerOptions, type LogEntry } from './train/trainer.ts';
export { stageDefaults, type StageConfig, type StageKind, type TrainConfig } from './train/config.ts';
export { writeCheckpoint, readCheckpoint, latestCheckpoint, type TrainState, type CheckpointContents, type WriteHook } from './train/checkpoint.ts';
export type { HostBatch, BatchSource } from './train/batch.ts';
export { SiglipObjective, CaptionTokenizer, CAPTION_SPECIALS, tinyTextConfigJson, sigmoidLoss, retrievalAccuracy, imageEmbeddings, visionStageLoss, type VisionStageResult, type ObjectiveInit } from './train/vision_stage.ts';
export { initFromScratch } from './init.ts';
export { loadRun } from './run.ts';
export { writeModelFolder, loadModelFolder, loadRunOrFolder, isModelFolder, readFolderConfig, parseShardSize, DEFAULT_MAX_SHARD_BYTES, type WriteFolderOptions, type WrittenFolder } from './model_folder.ts';
export { tokenizerFiles, vocabulary, wordsFromVocab, SPECIAL_NAMES } from './tokenizer_files.ts';
export { reconstructGaze, vaeRoundTrip, type ReconstructOptions } from './inference/reconstruct.ts';
export { attentionMap, gazeShare, overlayAttention, type AttentionMap } from './inference/attention.ts';
export { chwToRgb, resizeNearest, sideBySide, stacked, encodePng, type RgbBytes } from './inference/image_io.ts';
export { teacherForcedAccuracy, type ActionAccuracy } from './inference/accuracy.ts';
