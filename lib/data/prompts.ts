/**
 * The walkthrough's prompts, character for character, and a small template API for other formats.
 *
 * Training text (`createPromptFormats`, the article's create_prompt_formats): five parts joined by
 * a blank line — "\nBelow is an instruction…", "### Instruct: Summarize the below conversation.",
 * the dialogue (left out when empty), "### Output:\n{summary}", "### End".
 * Zero-shot prompt (`zeroShotPrompt`): "Instruct: Summarize the following conversation.\n{dialogue}\nOutput:\n".
 */
import { ArgumentError, show } from '../errors';
import type { ChatMessage } from './tokenizer/chat_template';

export const INTRO_BLURB = 'Below is an instruction that describes a task. Write a response that appropriately completes the request.';
export const INSTRUCTION_KEY = '### Instruct: Summarize the below conversation.';
export const RESPONSE_KEY = '### Output:';
export const END_KEY = '### End';

/** The walkthrough's training text for one row; sets `sample.text` and returns the sample. */
export function createPromptFormats<T extends { dialogue?: unknown; summary?: unknown }>(sample: T): T & { text: string } {
  const blurb = `\n${INTRO_BLURB}`;
  const inputContext = sample.dialogue ? `${sample.dialogue}` : null;
  const response = `${RESPONSE_KEY}\n${sample.summary}`;
  const parts = [blurb, INSTRUCTION_KEY, inputContext, response, END_KEY].filter((p): p is string => Boolean(p));
  const out = sample as T & { text: string };
  out.text = parts.join('\n\n');
  return out;
}

/** The text a model completes at inference time in the fine-tuned format: everything up to and including "### Output:\n". */
export function trainingPromptPrefix(dialogue: string): string {
  return createPromptFormats({ dialogue, summary: '' }).text.slice(0, -`\n\n${END_KEY}`.length);
}

/** The walkthrough's zero-shot prompt for the base model. */
export function zeroShotPrompt(dialogue: string): string {
  return `Instruct: Summarize the following conversation.\n${dialogue}\nOutput:\n`;
}

/** The walkthrough's separator: Python's '-'.join('' for x in range(100)), 99 dashes. */
export const DASH_LINE = '-'.repeat(99);

/** The walkthrough's step 3 printout: INPUT PROMPT, BASELINE HUMAN SUMMARY, MODEL GENERATION - ZERO SHOT. */
export function zeroShotReport(prompt: string, humanSummary: string, generation: string): string {
  return [DASH_LINE, `INPUT PROMPT:\n${prompt}`, DASH_LINE, `BASELINE HUMAN SUMMARY:\n${humanSummary}\n`, DASH_LINE, `MODEL GENERATION - ZERO SHOT:\n${generation}`].join('\n');
}

/**
 * A prompt format with `{field}` slots filled from a row, e.g.
 * `new PromptTemplate('Dialogue:\n{dialogue}\nSummary: {summary}')`. `{{` and `}}` are literal braces.
 * A row missing a slot's field is an error naming the field and the row's keys.
 */
export class PromptTemplate {
  readonly template: string;
  readonly fields: string[];

  constructor(template: string) {
    this.template = template;
    this.fields = [...template.replace(/\{\{|\}\}/g, '').matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
  }

  format(row: Record<string, unknown>): string {
    return this.template.replace(/\{\{|\}\}|\{(\w+)\}/g, (m, field: string | undefined) => {
      if (m === '{{') return '{';
      if (m === '}}') return '}';
      if (!(field! in row)) {
        throw new ArgumentError(`prompt template needs field ${show(field)}, which the row lacks; row fields: ${show(Object.keys(row))}`, 'rename the column or the slot');
      }
      return String(row[field!] ?? '');
    });
  }

  /** A `map` function setting `row[column]` (default `text`) to the formatted prompt. */
  mapper(column = 'text'): (row: Record<string, unknown>) => Record<string, unknown> {
    return (row) => ({ [column]: this.format(row) });
  }
}

/** Built-in formats: the walkthrough's two, and a plain "Dialogue / Summary" one. */
export const PROMPT_TEMPLATES = {
  walkthrough: new PromptTemplate(`\n${INTRO_BLURB}\n\n${INSTRUCTION_KEY}\n\n{dialogue}\n\n${RESPONSE_KEY}\n{summary}\n\n${END_KEY}`),
  zeroShot: new PromptTemplate('Instruct: Summarize the following conversation.\n{dialogue}\nOutput:\n'),
  plain: new PromptTemplate('Dialogue:\n{dialogue}\n\nSummary:\n{summary}'),
};

/**
 * Chat messages for `tokenizer.applyChatTemplate`: the instruction and dialogue as the user turn,
 * the summary (when given) as the assistant turn, an optional system prompt first.
 */
export function summarizationMessages(dialogue: string, summary?: string, system?: string): ChatMessage[] {
  const messages: ChatMessage[] = [];
  if (system) messages.push({ role: 'system', content: system });
  messages.push({ role: 'user', content: `Summarize the following conversation.\n${dialogue}` });
  if (summary !== undefined) messages.push({ role: 'assistant', content: summary });
  return messages;
}
