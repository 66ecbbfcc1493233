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
