/**
 * A study report as one self-contained HTML file: the data inlined as JSON, the plotting library inlined as a
 * <script>, a few lines of plain JavaScript for the plots and the sortable table. The page makes no network request
 * and works offline (test/cli/report.test.ts opens it in headless Chromium with every request blocked).
 *
 * Plotting library: plotly.js, through the `plotly.js-dist-min` package (pinned exactly in package.json). Chosen
 * because it is maintained, ships as ONE pre-built minified file with no runtime dependency (so inlining is a file
 * read, no bundler at run time), and has every view a study report needs built in — parallel coordinates, log axes,
 * bar, scatter and line plots — the same library optuna-dashboard and Optuna's own visualisation use, so its plots
 * look familiar. The cost is size (~4.8 MB in the file); lighter libraries (uPlot, Chart.js) lack parallel
 * coordinates, and a d3 build would have to be bundled by us.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ReportData } from './data.js';

const PLOTLY_FILE = 'plotly.js-dist-min/plotly.min.js';

/** The plotting library's source, ready to sit inside a <script> element. */
export function plotlySource(): string {
  const path = createRequire(import.meta.url).resolve(PLOTLY_FILE);
  // Inside <script>, only "</script" and "<!--" mean anything to the HTML parser; both occur (if at all) in string
  // or regex literals, where these escapes mean the same characters.
  return readFileSync(path, 'utf8').replaceAll('</script', '<\\/script').replaceAll('<!--', '<\\x21--');
}

/** JSON that is safe inside a <script> element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function fmt(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : Number(v.toPrecision(6)).toString();
  return String(v);
}

/** The trial table, rendered here so it reads without JavaScript; the page's script sorts it. */
function trialTable(data: ReportData): string {
  const objectives = data.directions.map((d, i) => (data.directions.length > 1 ? `value ${i} (${d})` : `value (${d})`));
  const heads = ['number', 'state', ...objectives, 'duration (s)', ...data.params.map((p) => p.name)];
  const numeric = [true, false, ...objectives.map(() => true), true, ...data.params.map((p) => p.kind !== 'categorical')];
  const th = heads.map((h, i) => `<th data-type="${numeric[i] ? 'number' : 'text'}" title="click to sort">${escapeHtml(h)}</th>`).join('');
  const rows = data.trials.map((t) => {
    const cells: unknown[] = [t.number, t.state, ...data.directions.map((_, i) => t.values?.[i] ?? null), t.duration, ...data.params.map((p) => t.params[p.name] ?? null)];
    const tds = cells.map((c) => `<td data-v="${escapeHtml(c === null ? '' : String(c))}">${escapeHtml(fmt(c))}</td>`).join('');
    return `<tr class="state-${t.state.toLowerCase()}${data.best.includes(t.number) ? ' best' : ''}">${tds}</tr>`;
  });
  return `<table id="trials"><thead><tr>${th}</tr></thead><tbody>\n${rows.join('\n')}\n</tbody></table>`;
}

/** The whole page. `plotly` is the library's source (plotlySource()). */
export function reportHtml(data: ReportData, plotly: string = plotlySource()): string {
  const counts = new Map<string, number>();
  for (const t of data.trials) counts.set(t.state, (counts.get(t.state) ?? 0) + 1);
  const summary = [...counts.entries()].map(([s, n]) => `${n} ${s}`).join(', ') || 'no trials';
  const title = `Study ${data.studyName}`;
  const multi = data.directions.length > 1;
  const sections: string[] = [];
  const section = (id: string, heading: string, body: string) => sections.push(`<section id="section-${id}"><h2>${escapeHtml(heading)}</h2>${body}</section>`);
  section('history', 'Optimisation history', data.directions.map((_, i) => `<div class="plot" id="plot-history-${i}"></div>`).join(''));
  if (multi) section('pareto', 'Pareto front', '<div class="plot" id="plot-pareto"></div>');
  section('importance', 'Hyperparameter importance', `<p class="note">${escapeHtml(data.importanceNote)}</p><div class="plot" id="plot-importance"></div>`);
  section('parallel', 'Parallel coordinates', '<div class="plot" id="plot-parallel"></div>');
  section('slice', 'Slice plots', data.params.map((p, i) => `<div class="plot slice" id="plot-slice-${i}"></div>`).join('') || '<p class="note">no parameters</p>');
  section('intermediate', 'Intermediate values', '<div class="plot" id="plot-intermediate"></div>');
  section('table', 'Trials', '<p class="note">Click a column header to sort; click again to reverse.</p>' + trialTable(data));
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data: blob:; font-src data:; worker-src blob:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} — webtrainer report</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; }
.meta, .note { color: #555; font-size: 0.9rem; }
.plot { width: 100%; min-height: 380px; }
.slice { display: inline-block; width: 48%; min-width: 360px; }
table { border-collapse: collapse; font-size: 0.85rem; }
th, td { border: 1px solid #ddd; padding: 0.2rem 0.5rem; text-align: right; }
th { background: #f3f3f3; cursor: pointer; user-select: none; position: sticky; top: 0; }
th.asc::after { content: " \\25B2"; } th.desc::after { content: " \\25BC"; }
tr.state-pruned td { color: #b35900; } tr.state-fail td { color: #b00; } tr.best td { font-weight: bold; }
</style>
<script>${plotly}</script>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="meta">storage ${escapeHtml(data.storage)} · direction${multi ? 's' : ''} ${escapeHtml(data.directions.join(', '))} · ${escapeHtml(summary)} · generated ${escapeHtml(data.generatedAt)} by webtrainer report</p>
${sections.join('\n')}
<script id="report-data" type="application/json">${scriptJson(data)}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}

/** The page's own script: plain JavaScript (no template literals, so it can sit in this file as a string). */
const PAGE_SCRIPT = String.raw`
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var config = { displaylogo: false, responsive: true, staticPlot: false };
  var complete = data.trials.filter(function (t) { return t.state === 'COMPLETE' && t.values; });
  var multi = data.directions.length > 1;
  var objName = function (i) { return multi ? 'value ' + i + ' (' + data.directions[i] + ')' : 'value (' + data.directions[0] + ')'; };
  function plot(id, traces, layout) {
    layout = Object.assign({ margin: { t: 30, r: 20, b: 50, l: 60 }, hovermode: 'closest' }, layout || {});
    if (!traces.length) {
      layout.annotations = [{ text: layout.empty || 'no data yet', showarrow: false, xref: 'paper', yref: 'paper', x: 0.5, y: 0.5 }];
      layout.xaxis = { visible: false }; layout.yaxis = { visible: false };
    }
    delete layout.empty;
    return Plotly.newPlot(document.getElementById(id), traces, layout, config);
  }
  function paramAxis(p) {
    if (p.kind === 'categorical') return { type: 'category' };
    return p.log ? { type: 'log' } : {};
  }
  function catLabel(v) { return v === null ? 'null' : String(v); }

  // Optimisation history with best-so-far, one plot per objective.
  data.directions.forEach(function (dir, i) {
    var xs = [], ys = [], bx = [], by = [], best = null;
    complete.forEach(function (t) {
      var v = t.values[i];
      if (v === null || !isFinite(v)) return;
      xs.push(t.number); ys.push(v);
      if (best === null || (dir === 'minimize' ? v < best : v > best)) best = v;
      bx.push(t.number); by.push(best);
    });
    var traces = xs.length ? [
      { x: xs, y: ys, mode: 'markers', type: 'scatter', name: 'objective value', marker: { color: '#1f77b4' } },
      { x: bx, y: by, mode: 'lines', type: 'scatter', name: 'best so far', line: { color: '#d62728', shape: 'hv' } }
    ] : [];
    plot('plot-history-' + i, traces, { xaxis: { title: { text: 'trial' } }, yaxis: { title: { text: objName(i) } }, empty: 'no COMPLETE trial yet' });
  });

  // Pareto front (first two objectives).
  if (multi) {
    var isBest = {};
    data.best.forEach(function (n) { isBest[n] = true; });
    var front = complete.filter(function (t) { return isBest[t.number]; });
    var rest = complete.filter(function (t) { return !isBest[t.number]; });
    var tr = function (ts, name, color) {
      return { x: ts.map(function (t) { return t.values[0]; }), y: ts.map(function (t) { return t.values[1]; }), text: ts.map(function (t) { return 'trial ' + t.number; }), mode: 'markers', type: 'scatter', name: name, marker: { color: color, size: 9 } };
    };
    plot('plot-pareto', complete.length ? [tr(rest, 'dominated', '#aaaaaa'), tr(front, 'Pareto front', '#d62728')] : [], { xaxis: { title: { text: objName(0) } }, yaxis: { title: { text: objName(1) } }, empty: 'no COMPLETE trial yet' });
  }

  // Importance.
  var imp = (data.importance || []).slice().reverse();
  plot('plot-importance', imp.length ? [{ type: 'bar', orientation: 'h', x: imp.map(function (e) { return e[1]; }), y: imp.map(function (e) { return e[0]; }), marker: { color: '#2ca02c' }, text: imp.map(function (e) { return e[1].toFixed(3); }), textposition: 'auto' }] : [],
    { xaxis: { title: { text: 'importance (sums to 1)' }, range: [0, 1] }, margin: { l: 140, t: 30, r: 20, b: 50 }, empty: 'not enough COMPLETE trials' });

  // Parallel coordinates: every parameter and the first objective.
  var pc = complete.filter(function (t) { return t.values[0] !== null && isFinite(t.values[0]); });
  var dims = data.params.map(function (p) {
    var vals = pc.map(function (t) { return t.params[p.name]; });
    if (p.kind === 'categorical') {
      var labels = p.choices.map(catLabel);
      return { label: p.name, values: vals.map(function (v) { return labels.indexOf(catLabel(v)); }), tickvals: labels.map(function (_, i) { return i; }), ticktext: labels, range: [0, Math.max(labels.length - 1, 1)] };
    }
    if (p.log) return { label: 'log10(' + p.name + ')', values: vals.map(function (v) { return v === undefined ? NaN : Math.log10(v); }), range: [Math.log10(p.low), Math.log10(p.high)] };
    return { label: p.name, values: vals.map(function (v) { return v === undefined ? NaN : v; }), range: [p.low, p.high] };
  });
  var objVals = pc.map(function (t) { return t.values[0]; });
  dims.push({ label: objName(0), values: objVals });
  plot('plot-parallel', pc.length ? [{ type: 'parcoords', dimensions: dims, line: { color: objVals, colorscale: 'Viridis', reversescale: data.directions[0] === 'maximize', showscale: true } }] : [], { margin: { t: 60, r: 60, b: 30, l: 60 }, empty: 'no COMPLETE trial yet' });

  // Slice plot per parameter.
  data.params.forEach(function (p, i) {
    var ts = pc.filter(function (t) { return t.params[p.name] !== undefined; });
    var x = ts.map(function (t) { var v = t.params[p.name]; return p.kind === 'categorical' ? catLabel(v) : v; });
    plot('plot-slice-' + i, ts.length ? [{ type: 'scatter', mode: 'markers', x: x, y: ts.map(function (t) { return t.values[0]; }), text: ts.map(function (t) { return 'trial ' + t.number; }), marker: { color: ts.map(function (t) { return t.number; }), colorscale: 'Blues', showscale: true, colorbar: { title: { text: 'trial' } } } }] : [],
      { title: { text: p.name }, xaxis: Object.assign({ title: { text: p.name } }, paramAxis(p)), yaxis: { title: { text: objName(0) } }, empty: 'no COMPLETE trial with ' + p.name });
  });

  // Intermediate values: one line per trial; pruned trials dashed and orange.
  var colors = { COMPLETE: '#1f77b4', PRUNED: '#ff7f0e', FAIL: '#d62728', RUNNING: '#2ca02c', WAITING: '#7f7f7f' };
  var iv = data.trials.filter(function (t) { return t.intermediate.length > 0; }).map(function (t) {
    return { type: 'scatter', mode: 'lines+markers', name: 'trial ' + t.number + ' (' + t.state + ')', x: t.intermediate.map(function (e) { return e[0]; }), y: t.intermediate.map(function (e) { return e[1]; }),
      line: { color: colors[t.state] || '#333', dash: t.state === 'PRUNED' ? 'dash' : 'solid', width: 1.5 }, marker: { size: 4 }, opacity: t.state === 'PRUNED' ? 0.8 : 1 };
  });
  plot('plot-intermediate', iv, { xaxis: { title: { text: 'step' } }, yaxis: { title: { text: 'intermediate value' } }, empty: 'no trial reported an intermediate value' });

  // The trial table sorts on a header click.
  var table = document.getElementById('trials');
  var headers = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(headers, function (th, col) {
    th.addEventListener('click', function () {
      var asc = !th.classList.contains('asc');
      Array.prototype.forEach.call(headers, function (h) { h.classList.remove('asc', 'desc'); });
      th.classList.add(asc ? 'asc' : 'desc');
      var numeric = th.getAttribute('data-type') === 'number';
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].getAttribute('data-v'), y = b.cells[col].getAttribute('data-v');
        if (x === '' && y !== '') return 1;
        if (y === '' && x !== '') return -1;
        var c = numeric ? Number(x) - Number(y) : x.localeCompare(y);
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
})();
`;
