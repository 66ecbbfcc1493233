import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Dataset } from '../../../lib/data/dataset';
import { DatasetDict } from '../../../lib/data/dataset_dict';
import { escapeHtml, shortText } from '../../../lib/html';
import { isDisplayable } from '../../../lib/display';

const STYLE = '<style>.qlora-table{border-collapse:collapse;font-size:12px}.qlora-table th,.qlora-table td{padding:2px 8px;border-bottom:1px solid #ddd;'
  + 'vertical-align:top;text-align:left;white-space:pre-wrap;max-width:40em}.qlora-table tbody th{color:#888}.qlora-table td.num{text-align:right}</style>';

test('HTML view snapshot: escaped cells, long text cut at a word with the full text in title, lists by head and length, row footer', () => {
  const ds = Dataset.fromDict({
    id: ['t_0', 't_1', 't_2'],
    dialogue: ['#Person1#: <b>Hi</b> & "bye"', 'word '.repeat(30).trim(), 'short'],
    input_ids: [[1, 2], Array.from({ length: 10 }, (_, i) => i), []],
  });
  const html = ds.toHtml({ maxRows: 2, maxChars: 40 });
  assert.equal(html, [
    '<div>',
    STYLE,
    '<table class="qlora-table">',
    '<thead><tr><th></th><th>id</th><th>dialogue</th><th>input_ids</th></tr></thead>',
    '<tbody>',
    '<tr><th>0</th><td>t_0</td><td>#Person1#: &lt;b&gt;Hi&lt;/b&gt; &amp; &quot;bye&quot;</td><td>[1, 2]</td></tr>',
    `<tr><th>1</th><td>t_1</td><td title="${'word '.repeat(30).trim()}">word word word word word word word word…</td>`
      + '<td title="[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]">[0, 1, 2, 3, 4, 5, …] (10)</td></tr>',
    '</tbody>',
    '</table>',
    '<p style="font-size:11px;color:#666">showing 2 of 3 rows × 3 columns</p>',
    '</div>',
  ].join('\n'));
});

test('the display bundle has text/html and the datasets repr as text/plain; DatasetDict shows each split', () => {
  const ds = Dataset.fromDict({ a: [1] });
  assert.ok(isDisplayable(ds));
  const bundle = ds[Symbol.for('Jupyter.display') as never] as unknown as () => Record<string, string>;
  const b = (bundle as () => Record<string, string>).call(ds);
  assert.equal(b['text/plain'], "Dataset({\n    features: ['a'],\n    num_rows: 1\n})");
  assert.match(b['text/html'], /<p style="font-size:11px;color:#666">1 rows × 1 columns<\/p>/);
  const dd = new DatasetDict({ train: ds, test: ds });
  const d = (dd as unknown as Record<symbol, () => Record<string, string>>)[Symbol.for('Jupyter.display')]();
  assert.match(d['text/html'], /<details open><summary><b>train<\/b>: 1 rows × 1 columns<\/summary>/);
  assert.match(d['text/html'], /<details><summary><b>test<\/b>: 1 rows × 1 columns<\/summary>/);
  assert.match(d['text/plain'], /^DatasetDict\(\{\n {4}train: Dataset\(\{/);
});

test('escapeHtml and shortText edge cases', () => {
  assert.equal(escapeHtml(`<a href='x'>&"</a>`), '&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;');
  assert.equal(shortText('x'.repeat(50), 10), 'xxxxxxxxxx…');
  assert.equal(shortText(null, 10), '');
  assert.equal(shortText({ k: 1 }, 10), '{"k":1}');
  assert.equal(shortText(new Int32Array([1, 2]), 10), '[1, 2]');
});
