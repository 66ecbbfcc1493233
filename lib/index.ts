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

// Data: datasets' Dataset / DatasetDict / loadDataset (local layouts and the embedded DialogSum-style set), the walkthrough's prompts and preprocessing.
export { Dataset, type Row, type Columns, type MapOptions } from './data/dataset';
export { DatasetDict } from './data/dataset_dict';
export { loadDataset, findSplitFiles, EMBEDDED_DATASET_NAMES, type LoadDatasetOptions } from './data/load_dataset';
export { createPromptFormats, zeroShotPrompt, zeroShotReport, DASH_LINE, trainingPromptPrefix, summarizationMessages, PromptTemplate, PROMPT_TEMPLATES, INTRO_BLURB, INSTRUCTION_KEY, RESPONSE_KEY, END_KEY } from './data/prompts';
export { getMaxLength, preprocessDataset, tokenLengthStats, tokenLengths, type PreprocessTokenizer, type TokenLengthRow } from './data/preprocess';
export { columnStats, summarize, percentile, type ColumnStats, type Summary } from './data/stats';
export { htmlTable, escapeHtml, type HtmlTableOptions } from './html';
export { toCsvText, toJsonlText, readCsv, readJson, readParquet, readRows } from './data/formats';

// Tokenizers: byte-level BPE from tokenizer.json + tokenizer_config.json, and a trainer for new vocabularies.
export { AutoTokenizer, PreTrainedTokenizerFast } from './data/tokenizer/auto';
export { PreTrainedTokenizer, type BatchEncoding, type CallOptions, type ChatOptions, type TokenizerOptions } from './data/tokenizer/tokenizer';
export { type ChatMessage } from './data/tokenizer/chat_template';
export { trainByteLevelBpe, LLAMA3_CHAT_TEMPLATE, LLAMA3_SPECIAL_TOKENS, type TrainBpeOptions } from './data/tokenizer/trainer';

// Backends: pick and report the tfjs backend (wasm by default on CPU, cpu, tensorflow, webgpu, cuda).
export { setBackend, ensureBackend, backendReport, describeBackend, BACKEND_NAMES, type BackendName, type BackendReport, type SetBackendOptions } from './backend';
/** On cuda: keep the frozen embedding / lm_head in bf16 on the device (half their memory). */
export { storeFrozenWeightsInBf16 } from './backend/cuda/bf16';

// Checkpoints & config: safetensors (raw bytes and tf tensors, sharded), config.json as LlamaConfig.
export { SafetensorsFile, saveSafetensors, saveTensors, loadTensors, loadRaw, rawToTensor, tensorToRaw, decodeRaw, encodeRaw, type RawTensor, type SafetensorsDtype } from './model/safetensors';
export { Checkpoint } from './model/checkpoint';
export { AutoConfig, LlamaConfig, type LlamaConfigFields, type RopeScaling, type GenerationConfig } from './model/config';

// Model: Llama for causal LM with HF names, and its building blocks.
export { AutoModelForCausalLM, LlamaForCausalLM, LlamaModel, LlamaDecoderLayer, LlamaAttention, LlamaMLP, KVCache, type ForwardArgs, type CausalLMOutput, type FromPretrainedOptions, type IdRows, type SaveDtype } from './model/llama';
export { moduleRepr, pyFloat, type HasExtraRepr } from './nn/repr';
export { Embedding, embeddingLookup } from './nn/embedding';
export { RMSNorm, rmsNorm } from './nn/rms_norm';
export { ropeInvFreq, ropeCosSin, applyRotaryPosEmb } from './nn/rope';
export { scaledDotProductAttention, buildAttentionMask } from './nn/attention';
export { crossEntropy, causalLmLoss, IGNORE_INDEX } from './nn/cross_entropy';

// Generation: greedy and sampled decoding with a KV cache and a streaming callback.
export { generate, sampleToken, seededRandom, type GenerateOptions } from './model/generate';

// Quantization: bitsandbytes-layout NF4/FP4 4-bit weights, the 4-bit linear layer, and the loading config.
export { quantize4bit, dequantize4bit, quantStateToDict, quantStateFromDict, type QuantState, type QuantType, type Quantized4bit, type Quantize4bitOptions } from './quant/quant_state';
export { NF4_CODE, FP4_CODE, DYNAMIC_MAP, createDynamicMap } from './quant/codebooks';
export { Linear4bit, type ComputeDtype, type Linear4bitOptions } from './quant/linear4bit';
export { dequantize4bitOp, dequantize4bitComposite, DEQUANTIZE_4BIT } from './quant/dequantize_op';
export { BitsAndBytesConfig, type BitsAndBytesConfigOptions } from './quant/bnb_config';
export { prepareModelForKbitTraining, type PrepareForKbitOptions } from './quant/prepare';
export { saveQuantizedPretrained } from './quant/save';

// LoRA: PEFT's LoraConfig, get_peft_model / PeftModel (adapters in PEFT's file format) and the parameter printouts.
export { LoraConfig, type LoraConfigOptions, type LoraBias, type InitLoraWeights } from './lora/config';
export { LoraLinear } from './lora/layer';
export { PeftModel, LoraModel, getPeftModel, type GetPeftModelOptions } from './lora/peft_model';
export { printNumberOfTrainableModelParameters, formatTrainableParameters, parameterCounts, nbTrainableParameters, type ParamCount } from './lora/count';

// Training: transformers' TrainingArguments/Trainer (AdamW, 8-bit AdamW, schedules, checkpoints that resume) and the causal-LM collators.
export { TrainingArguments, Trainer, TrainerState, PrinterCallback, NotebookProgressCallback, DataCollatorForLanguageModeling, DataCollatorForCompletionOnlyLM, AdamW, AdamW8bit, clipGradNorm, createOptimizer, lrLambda, LRScheduler, lastCheckpoint, listCheckpoints, type TrainingArgumentsOptions, type SchedulerType, type OptimName, type IntervalStrategy, type TrainerOptions, type TrainerDataset, type TrainableModel, type TrainerCallback, TrainOutput, type LogEntry, type Batch, type DataCollator, type Example, type CollatorTokenizer, type Optimizer } from './train';
// Gradients that free activations and intermediate gradients during the backward pass (tf.variableGrads / tf.grads otherwise), and a peak-memory probe.
export { variableGradsReleasing, gradsReleasing, peakDataBytes } from './train';

// Evaluation: ROUGE exactly as rouge_score (evaluate.load('rouge')), and human vs base vs fine-tuned summary comparison.
export { rouge, evaluate, scoreAll as rougeScoreAll, DEFAULT_ROUGE_TYPES, type RougeComputeArgs, type RougeResult, type RougePerSample } from './eval/rouge';
export { RougeScorer, type Score, type RougeScores, type RougeScorerOptions } from './eval/rouge_scorer';
export { BootstrapAggregator, meanAggregate, type AggregateScore } from './eval/aggregate';
export { PorterStemmer, type PorterMode } from './eval/porter';
export { DefaultTokenizer, type RougeTokenizer } from './eval/tokenize';
export { compareSummaries, ComparisonResult, summaryColumnName, type CompareSummariesArgs } from './eval/compare';

// Figures: plotly figures that render offline in notebooks and as PNG/SVG, the walkthrough's charts, live loss plot, progress bars.
export { Figure, type FigureSpec, type Trace, type Layout, type DisplayOptions, type HtmlOptions } from './viz/figure';
export { lossCurve, lrSchedule, tokenLengthHistogram, rougeBars, quantErrorHistogram, memoryFootprintBars, trainableParamsChart, type LogRecord, type RougeByModel } from './viz/charts';
export { liveLossPlot, type LiveLossPlot, type LiveLossPlotOptions } from './viz/live';
export { ProgressBar, type ProgressBarOptions } from './viz/progress';
export { closeRenderer, type ImageOptions } from './viz/render';
export { resetPlotlyInline } from './viz/plotly_source';
export { PALETTE, COLORS, binValues } from './viz/theme';
export { textTable } from './viz/table';
