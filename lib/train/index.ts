export { TrainingArguments, type TrainingArgumentsOptions, type SchedulerType, type OptimName, type IntervalStrategy } from './training_args';
export { Trainer, type TrainerOptions, type TrainerDataset, type TrainableModel } from './trainer';
export { TrainerState, TrainOutput, type TrainerCallback, type LogEntry } from './state';
export { DataCollatorForLanguageModeling, DataCollatorForCompletionOnlyLM, padExamples, type Batch, type DataCollator, type Example, type CollatorTokenizer } from './collator';
export { AdamW, AdamW8bit, clipGradNorm, createOptimizer, type Optimizer } from './optim';
export { lrLambda, LRScheduler } from './schedule';
export { lastCheckpoint, listCheckpoints } from './checkpoint';
export { PrinterCallback, NotebookProgressCallback } from './progress';
