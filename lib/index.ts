/**
 * qlora-ts: QLoRA fine-tuning of Llama-style models on TensorFlow.js, with Hugging Face's names.
 * Notebooks import everything from here: `import { AutoModelForCausalLM, LoraConfig } from 'qlora-ts'`.
 */

// Errors: one family, each with a hint the user can act on.
export * from './errors';

// Display: how library objects render in Jupyter without importing the kernel.
export * from './display';

// Modules: the PyTorch-style module tree and the linear layer interface.
export { Module } from './nn/module';
export { Linear, isLinearLike, type LinearLike, type LinearQuantizer } from './nn/linear';

// Embedded defaults: the small base model and the DialogSum-style data the project ships.
export { EMBEDDED_MODEL_DIR, EMBEDDED_DATA_DIR } from './embedded';

// Tokenizers: byte-level BPE from tokenizer.json + tokenizer_config.json, and a trainer for new vocabularies.
export { AutoTokenizer, PreTrainedTokenizerFast } from './data/tokenizer/auto';
export { PreTrainedTokenizer, type BatchEncoding, type CallOptions, type ChatOptions, type TokenizerOptions } from './data/tokenizer/tokenizer';
export { type ChatMessage } from './data/tokenizer/chat_template';
export { trainByteLevelBpe, LLAMA3_CHAT_TEMPLATE, LLAMA3_SPECIAL_TOKENS, type TrainBpeOptions } from './data/tokenizer/trainer';

// Backends: pick and report the tfjs backend (wasm by default on CPU, cpu, tensorflow, webgpu, cuda).
export { setBackend, ensureBackend, backendReport, describeBackend, BACKEND_NAMES, type BackendName, type BackendReport } from './backend';

// Checkpoints & config: safetensors (raw bytes and tf tensors, sharded), config.json as LlamaConfig.
export { SafetensorsFile, saveSafetensors, saveTensors, loadTensors, loadRaw, rawToTensor, tensorToRaw, decodeRaw, encodeRaw, type RawTensor, type SafetensorsDtype } from './model/safetensors';
export { Checkpoint } from './model/checkpoint';
export { AutoConfig, LlamaConfig, type LlamaConfigFields, type RopeScaling, type GenerationConfig } from './model/config';

// Model: Llama for causal LM with HF names, and its building blocks.
export { AutoModelForCausalLM, LlamaForCausalLM, LlamaModel, LlamaDecoderLayer, LlamaAttention, LlamaMLP, KVCache, type ForwardArgs, type CausalLMOutput, type FromPretrainedOptions, type IdRows } from './model/llama';
export { Embedding, embeddingLookup } from './nn/embedding';
export { RMSNorm, rmsNorm } from './nn/rms_norm';
export { ropeInvFreq, ropeCosSin, applyRotaryPosEmb } from './nn/rope';
export { scaledDotProductAttention, buildAttentionMask } from './nn/attention';
export { crossEntropy, causalLmLoss, IGNORE_INDEX } from './nn/cross_entropy';

// Generation: greedy and sampled decoding with a KV cache and a streaming callback.
export { generate, sampleToken, seededRandom, type GenerateOptions } from './model/generate';
