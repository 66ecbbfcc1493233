/**
 * One error family for the library. Every error names the file, field or argument at fault and
 * carries a `hint` the user can act on; `message` ends with that hint so it shows in any traceback.
 */
export class QloraError extends Error {
  readonly hint: string | undefined;

  constructor(message: string, hint?: string) {
    super(hint ? `${message}\nHint: ${hint}` : message);
    this.name = new.target.name;
    this.hint = hint;
  }
}

/** A checkpoint, adapter or safetensors file that cannot be read or written as asked. */
export class CheckpointError extends QloraError {}

/** A config object or config.json / adapter_config.json field with a bad value. */
export class ConfigError extends QloraError {}

/** A data set, split, column or data file that is missing or malformed. */
export class DatasetError extends QloraError {}

/** A tensor backend that cannot be selected or is missing a kernel. */
export class BackendError extends QloraError {}

/** Training stopped by a numerical problem (NaN or infinite loss) or bad arguments. */
export class TrainingError extends QloraError {}

/** A bad argument to a public function: names the argument and the value passed. */
export class ArgumentError extends QloraError {}

/** Formats a value for an error message: short, unambiguous. */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(show).join(', ')}]`;
  if (isPlainObject(value)) { // not [object Object]
    const fields = Object.entries(value).map(([k, v]) => `${k}: ${show(v)}`);
    return fields.length ? `{ ${fields.join(', ')} }` : '{}';
  }
  return String(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
