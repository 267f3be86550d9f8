// @reconvla/qwen2: Qwen2ForCausalLM with Hugging Face parameter names.
export { parseQwen2Config, type Qwen2Config } from './config.ts';
export { Qwen2ForCausalLM, Qwen2Model, causalLMLoss, sampleTopP, type Qwen2Inputs, type CausalLMOutput, type GenerateOptions, type GenerateResult, type InitOptions } from './model.ts';
export { KVCache } from './kv_cache.ts';
