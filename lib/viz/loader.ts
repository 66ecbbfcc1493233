/**
 * The browser side of offline figures: the script that draws one figure, and the fallback that
 * finds plotly.js when no output on the page carries it.
 *
 * The output that carries plotly.js inline also stores its text in the browser's IndexedDB
 * (database `qlora-ts`, store `lib`, key `plotly.js <version>`, per server origin). A figure
 * that finds no `window.Plotly` waits 2 s for a carrier still loading, then loads plotly.js from
 * that store, so a notebook whose carrier output was cleared or re-run still draws in a browser
 * that has shown any qlora-ts figure before; otherwise it says how to bring the library back.
 */

/** JSON safe inside a <script> element. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const OPEN_STORE = `function openStore(onOpen, onFail) {
    try {
      var req = window.indexedDB.open('qlora-ts', 1);
      req.onupgradeneeded = function () { req.result.createObjectStore('lib'); };
      req.onsuccess = function () { onOpen(req.result); };
      req.onerror = onFail;
    } catch (e) { onFail(); }
  }`;

/** Placed right after the inline plotly.js <script>: keeps its text for the fallback. */
export function carrierScript(version: string): string {
  return `<script type="text/javascript">(function (me) {
  ${OPEN_STORE}
  var lib = me && me.previousElementSibling;
  if (!lib || !lib.textContent || !window.indexedDB) return;
  openStore(function (db) {
    try { db.transaction('lib', 'readwrite').objectStore('lib').put(lib.textContent, ${JSON.stringify(`plotly.js ${version}`)}); } catch (e) {}
  }, function () {});
})(document.currentScript);</script>\n`;
}

/** Draws the figure into element `id` with window.Plotly, or the stored copy, or explains. */
export function drawScript(id: string, specJson: string, version: string): string {
  return `<script type="text/javascript">(function () {
  var spec = ${specJson};
  var el = document.getElementById(${JSON.stringify(id)});
  var tries = 0;
  var triedStore = false;
  ${OPEN_STORE}
  function fromStore() {
    triedStore = true;
    openStore(function (db) {
      try {
        var get = db.transaction('lib').objectStore('lib').get(${JSON.stringify(`plotly.js ${version}`)});
        get.onsuccess = function () {
          if (get.result && !window.Plotly) { var s = document.createElement('script'); s.text = get.result; document.head.appendChild(s); }
          draw();
        };
        get.onerror = draw;
      } catch (e) { draw(); }
    }, draw);
  }
  function draw() {
    if (window.Plotly) { window.Plotly.newPlot(el, spec.data, spec.layout, spec.config); return; }
    if (++tries < 20) { setTimeout(draw, 100); return; }
    if (!triedStore) { fromStore(); return; }
    el.textContent = 'plotly.js is not loaded on this page. Run resetPlotlyInline() before showing a figure, or call fig.show({ plotlyJs: "inline" }).';
  }
  draw();
})();</script>`;
}
