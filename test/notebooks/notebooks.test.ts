/**
 * Every notebook in notebooks/ runs end to end through the qlora-ts kernel, driven by Debian's
 * nbclient (a real Jupyter client), in the short-run setting (QLORA_TS_SHORT=1: few steps, few
 * rows), with no error output. The walkthrough also prints the article's labels.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../tmp';
import { packageRoot } from '../../lib/package_root';

const root = packageRoot();
const notebooksDir = path.join(root, 'notebooks');
const notebooks = fs.existsSync(notebooksDir) ? fs.readdirSync(notebooksDir).filter((f) => f.endsWith('.ipynb')).sort() : [];

interface Output { output_type: string; text?: string | string[]; data?: Record<string, unknown>; ename?: string; evalue?: string }
interface Cell { cell_type: string; outputs?: Output[] }

function allText(cells: Cell[]): string {
  const parts: string[] = [];
  for (const c of cells) {
    for (const o of c.outputs ?? []) {
      if (o.text) parts.push(Array.isArray(o.text) ? o.text.join('') : o.text);
      const plain = o.data?.['text/plain'];
      if (plain) parts.push(Array.isArray(plain) ? plain.join('') : String(plain));
    }
  }
  return parts.join('\n');
}

test('notebooks/ holds the walkthrough and the exploratory notebooks, committed without outputs', () => {
  assert.ok(notebooks.includes('walkthrough.ipynb'), `notebooks found: ${notebooks.join(', ')}`);
  assert.ok(notebooks.length >= 4, 'the walkthrough plus data, quantization and run-comparison notebooks');
  for (const nb of notebooks) {
    const json = JSON.parse(fs.readFileSync(path.join(notebooksDir, nb), 'utf8')) as { cells: Cell[]; metadata: { kernelspec?: { name?: string; language?: string } } };
    assert.equal(json.metadata.kernelspec?.name, 'qlora-ts', `${nb}: kernelspec`);
    assert.equal(json.metadata.kernelspec?.language, 'typescript', `${nb}: language`);
    for (const c of json.cells) if (c.cell_type === 'code') assert.deepEqual(c.outputs, [], `${nb}: a code cell has committed outputs`);
  }
});

const tmp = tempDir('notebooks');
const prefix = path.join(tmp, 'jupyter');
const install = spawnSync(process.execPath, [path.join(root, 'dist', 'kernelspec', 'install.js'), 'install', '--prefix', prefix, '--name', 'qlora-ts'], { encoding: 'utf8' });

for (const nb of notebooks) {
  test(`${nb} runs end to end through the kernel under nbclient with no error output`, { timeout: 20 * 60_000 }, () => {
    assert.equal(install.status, 0, `kernelspec install failed: ${install.stderr}`);
    const outDir = path.join(tmp, path.basename(nb, '.ipynb'));
    fs.mkdirSync(outDir, { recursive: true });
    const executed = path.join(outDir, nb);
    const r = spawnSync('/usr/bin/python3', [path.join(root, 'scripts', 'notebook', 'run_notebook.py'), path.join(notebooksDir, nb), executed, '--kernel', 'qlora-ts'], {
      encoding: 'utf8',
      env: { ...process.env, JUPYTER_PATH: path.join(prefix, 'share', 'jupyter'), QLORA_TS_SHORT: '1', QLORA_TS_OUTPUT_DIR: outDir },
    });
    assert.equal(r.status, 0, `${nb} failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
    const cells = (JSON.parse(fs.readFileSync(executed, 'utf8')) as { cells: Cell[] }).cells;
    const errors = cells.flatMap((c) => (c.outputs ?? []).filter((o) => o.output_type === 'error'));
    assert.deepEqual(errors.map((e) => `${e.ename}: ${e.evalue}`), []);
    if (nb === 'walkthrough.ipynb') {
      const text = allText(cells);
      for (const label of ['INPUT PROMPT:', 'BASELINE HUMAN SUMMARY:', 'MODEL GENERATION - ZERO SHOT:', 'trainable model parameters:',
        'all model parameters:', 'percentage of trainable model parameters:', 'ORIGINAL MODEL:', 'PEFT MODEL:',
        'Absolute percentage improvement of PEFT MODEL over ORIGINAL MODEL']) {
        assert.ok(text.includes(label), `walkthrough output lacks '${label}'`);
      }
      assert.ok(fs.existsSync(path.join(outDir, 'results.json')), 'the walkthrough writes results.json');
    }
  });
}
