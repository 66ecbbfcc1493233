/**
 * Data benchmark: reading the embedded train split from CSV into a Dataset (papaparse + the
 * column store) vs danfojs-node's readCSV into a DataFrame, on the same file, interleaved rounds,
 * medians; plus the walkthrough's preprocessDataset on the whole train split with the real
 * Llama 3 tokenizer (no peer runs here; absolute time).
 *
 *   npx tsc -p tsconfig.json && node dist/bench/data/load.js [rounds]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Dataset } from '../../lib/data/dataset';
import { readCsv } from '../../lib/data/formats';
import { loadDataset } from '../../lib/data/load_dataset';
import { getMaxLength, preprocessDataset } from '../../lib/data/preprocess';
import { AutoTokenizer } from '../../lib/data/tokenizer/auto';

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 7);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('@tensorflow/tfjs').enableProdMode();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const dfd = require('danfojs-node');
  const train = await loadDataset('neil-code/dialogsum-test', { split: 'train' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qlora-bench-'));
  const csv = path.join(dir, 'train.csv');
  train.toCsv(csv);

  const ours: number[] = [], danfo: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let t = performance.now();
    const ds = Dataset.fromList(readCsv(csv));
    ours.push(performance.now() - t);
    t = performance.now();
    const df = await dfd.readCSV(csv);
    danfo.push(performance.now() - t);
    if (ds.length !== 1999 || df.shape[0] !== 1999) throw new Error(`row counts ${ds.length} / ${df.shape[0]}`);
  }
  console.log(`read train.csv (${(fs.statSync(csv).size / 1e6).toFixed(2)} MB, 1999 rows), median of ${rounds}:`);
  console.log(`  qlora-ts readCsv → Dataset   ${median(ours).toFixed(1)} ms`);
  console.log(`  danfojs-node readCSV         ${median(danfo).toFixed(1)} ms`);
  console.log(`  ratio danfo / ours           ${(median(danfo) / median(ours)).toFixed(2)}×`);

  let root = __dirname;
  while (!fs.existsSync(path.join(root, 'package.json'))) root = path.dirname(root);
  const tok = await AutoTokenizer.fromPretrained(path.join(root, 'node_modules', '@lenml', 'tokenizer-llama3', 'models'));
  const times: number[] = [];
  const log = console.log;
  for (let r = 0; r < 3; r++) {
    console.log = () => {};
    const t = performance.now();
    preprocessDataset(tok, getMaxLength({ max_position_embeddings: 8192 }), 42, train);
    times.push(performance.now() - t);
    console.log = log;
  }
  console.log(`preprocessDataset(train, Llama 3 tokenizer, maxLength 8192): median of 3 ${median(times).toFixed(0)} ms`);
  fs.rmSync(dir, { recursive: true });
}

main().catch((err) => { console.error(err); process.exit(1); });
