/** A random fp32 Llama checkpoint in a fresh temp folder, for benchmarks that load from disk. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LlamaForCausalLM } from '../../lib/model/llama';
import type { LlamaConfigFields } from '../../lib/model/config';

/** Writes `config` with seeded random weights; the caller removes the returned folder. */
export async function randomCheckpoint(config: Partial<LlamaConfigFields>, seed = 0): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qlora-bench-'));
  const model = LlamaForCausalLM.fromConfig(config, { seed });
  await model.savePretrained(dir, { dtype: 'F32' });
  model.dispose();
  return dir;
}
