// @reconvla/qwen2: Qwen2ForCausalLM with Hugging Face parameter names.
export { parseQwen2Config, qwen2ConfigToJson, type Qwen2Config } from './config.ts';
export { loadCheckpointInto, formatLoadReport, savePretrained, TIED_LM_HEAD, type LoadReport, type LoadIntoOptions, type TiedCopy, type SavePretrainedOptions } from './checkpoint.ts';
export { Qwen2ForCausalLM, Qwen2Model, causalLMLoss, sampleTopP, type Qwen2Inputs, type CausalLMOutput, type GenerateOptions, type GenerateResult, type InitOptions, type PretrainedOptions } from './model.ts';
export { KVCache } from './kv_cache.ts';
export { Qwen2Tokenizer, QWEN2_SPECIAL_TOKENS, QWEN2_BASE_VOCAB_SIZE, QWEN2_CHAT_TEMPLATE, QWEN2_DEFAULT_SYSTEM_PROMPT, type ChatMessage, type ChatTemplateOptions } from './tokenizer.ts';
