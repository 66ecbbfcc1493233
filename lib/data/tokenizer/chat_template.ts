import { Template } from '@huggingface/jinja';
import { ArgumentError, ConfigError, show } from '../../errors';

/** One chat turn as transformers' `apply_chat_template` takes it. */
export interface ChatMessage {
  role: string;
  content: string;
  [key: string]: unknown;
}

/** tokenizer_config.json `chat_template`: one template, or a list of `{name, template}`. */
export function pickChatTemplate(configured: unknown, name?: string): string {
  if (typeof configured === 'string' && name === undefined) return configured;
  if (Array.isArray(configured)) {
    const wanted = name ?? 'default';
    const hit = configured.find((t) => t?.name === wanted);
    if (hit && typeof hit.template === 'string') return hit.template;
    throw new ConfigError(`tokenizer_config.json: \`chat_template\` has no template named ${show(wanted)} (names: ${configured.map((t) => show(t?.name)).join(', ')})`);
  }
  if (configured == null) {
    throw new ConfigError('tokenizer_config.json: `chat_template` is not set, so `applyChatTemplate` has no template',
      'pass `chatTemplate` to applyChatTemplate, or set `tokenizer.chatTemplate` before calling it.');
  }
  if (typeof configured === 'string') return configured;
  throw new ConfigError(`tokenizer_config.json: \`chat_template\` must be a string or a list of {name, template}, got ${show(typeof configured)}`);
}

const compiled = new Map<string, Template>();

/**
 * Renders a chat template as transformers does: Jinja with trim_blocks and lstrip_blocks, the
 * variables `messages`, `add_generation_prompt`, `tools`, `documents`, the special tokens
 * (`bos_token`, `eos_token`, …) and any extra keyword arguments.
 */
export function renderChatTemplate(template: string, messages: ChatMessage[], context: Record<string, unknown>): string {
  if (!Array.isArray(messages)) throw new ArgumentError(`\`messages\` must be a list of {role, content}, got ${show(typeof messages)}`);
  let t = compiled.get(template);
  if (t === undefined) {
    try {
      t = new Template(template);
    } catch (err) {
      throw new ConfigError(`tokenizer_config.json: \`chat_template\` does not parse: ${(err as Error).message}`);
    }
    compiled.set(template, t);
  }
  // @huggingface/jinja itself provides `raise_exception` and `strftime_now`.
  return t.render({ messages, ...context });
}
