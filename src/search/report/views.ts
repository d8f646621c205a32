/**
 * The views of a study — optimisation history, Pareto front, importance per objective, parallel coordinates, slice
 * plots, intermediate values, the sortable trial table — as one browser script shared by the report (drawn once
 * from data inlined in the file, html.ts) and the dashboard (drawn again whenever the data it polls changes,
 * src/search/dashboard). The script defines `webtrainerViews.render(root, data, by)`; `data` is a ReportData
 * (data.ts). Drawing again with the same study keeps the page: plots are updated in place (Plotly.react, with
 * `uirevision` so zoom and pan stay), the table keeps its sort column and order, and the sections are rebuilt only
 * when the study's shape changes (another study, a new parameter).
 * Plain ES2017 with no template literals, so it sits in this file as a string; Plotly must be loaded first.
 */

export const VIEW_CSS = `
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; } h3 { margin: 1rem 0 0; font-size: 1rem; }
.meta, .note { color: #555; font-size: 0.9rem; }
.plot { width: 100%; min-height: 380px; }
.slice { display: inline-block; width: 48%; min-width: 360px; }
table { border-collapse: collapse; font-size: 0.85rem; }
th, td { border: 1px solid #ddd; padding: 0.2rem 0.5rem; text-align: right; }
#trials th { background: #f3f3f3; cursor: pointer; user-select: none; position: sticky; top: 0; }
th.asc::after { content: " \\25B2"; } th.desc::after { content: " \\25BC"; }
tr.state-pruned td { color: #b35900; } tr.state-fail td { color: #b00; } tr.state-running td { color: #1a7f1a; } tr.best td { font-weight: bold; }
`;

export const VIEW_SCRIPT = String.raw`
(function () {
  'use strict';
  var config = { displaylogo: false, responsive: true };
  var stateColors = { COMPLETE: '#1f77b4', PRUNED: '#ff7f0e', FAIL: '#d62728', RUNNING: '#2ca02c', WAITING: '#7f7f7f' };
  // Which column the table is sorted by (its header text) and how: kept across redraws and studies.
  var sort = null;
  var shape = null;

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  function fmt(v) {
    if (v === null || v === undefined) return '';
    if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
    return String(v);
  }
  function catLabel(v) { return v === null ? 'null' : String(v); }
  function paramAxis(p) {
    if (p.kind === 'categorical') return { type: 'category' };
    return p.log ? { type: 'log' } : {};
  }

  function plot(id, traces, layout, revision) {
    layout = Object.assign({ margin: { t: 30, r: 20, b: 50, l: 60 }, hovermode: 'closest', uirevision: revision }, layout || {});
    if (!traces.length) {
      layout.annotations = [{ text: layout.empty || 'no data yet', showarrow: false, xref: 'paper', yref: 'paper', x: 0.5, y: 0.5 }];
      layout.xaxis = { visible: false }; layout.yaxis = { visible: false };
    }
    delete layout.empty;
    return Plotly.react(document.getElementById(id), traces, layout, config);
  }

  // The sections and empty plot containers of a study of this shape.
  function build(root, data) {
    Array.prototype.forEach.call(root.querySelectorAll('.js-plotly-plot'), function (p) { Plotly.purge(p); });
    root.textContent = '';
    var multi = data.directions.length > 1;
    root.appendChild(el('h1', { id: 'study-title' }));
    root.appendChild(el('p', { 'class': 'meta', id: 'study-meta' }));
    function section(id, heading) {
      var s = el('section', { id: 'section-' + id });
      s.appendChild(el('h2', {}, heading));
      root.appendChild(s);
      return s;
    }
    function plotDiv(parent, id, extra) { parent.appendChild(el('div', { 'class': 'plot' + (extra ? ' ' + extra : ''), id: id })); }
    var s = section('history', 'Optimisation history');
    data.directions.forEach(function (_, i) { plotDiv(s, 'plot-history-' + i); });
    if (multi) plotDiv(section('pareto', 'Pareto front'), 'plot-pareto');
    s = section('importance', 'Hyperparameter importance');
    data.directions.forEach(function (_, i) {
      if (multi) s.appendChild(el('h3', {}, objName(data, i)));
      s.appendChild(el('p', { 'class': 'note', id: 'importance-note-' + i }));
      plotDiv(s, 'plot-importance-' + i);
    });
    plotDiv(section('parallel', 'Parallel coordinates'), 'plot-parallel');
    s = section('slice', 'Slice plots');
    if (!data.params.length) s.appendChild(el('p', { 'class': 'note' }, 'no parameters'));
    data.params.forEach(function (_, i) { plotDiv(s, 'plot-slice-' + i, 'slice'); });
    plotDiv(section('intermediate', 'Intermediate values'), 'plot-intermediate');
    s = section('table', 'Trials');
    s.appendChild(el('p', { 'class': 'note' }, 'Click a column header to sort; click again to reverse.'));
    var table = el('table', { id: 'trials' });
    var head = el('tr');
    columns(data).forEach(function (c) { head.appendChild(el('th', { 'data-type': c.numeric ? 'number' : 'text', title: 'click to sort' }, c.name)); });
    table.appendChild(el('thead')).appendChild(head);
    table.appendChild(el('tbody'));
    s.appendChild(table);
    head.addEventListener('click', function (event) {
      var th = event.target.closest('th');
      if (!th) return;
      var name = th.textContent;
      sort = { column: name, asc: !(sort && sort.column === name && sort.asc) };
      applySort(table);
    });
  }

  function objName(data, i) {
    return data.directions.length > 1 ? 'value ' + i + ' (' + data.directions[i] + ')' : 'value (' + data.directions[0] + ')';
  }

  function columns(data) {
    var cols = [{ name: 'number', numeric: true, get: function (t) { return t.number; } }, { name: 'state', numeric: false, get: function (t) { return t.state; } }];
    data.directions.forEach(function (_, i) { cols.push({ name: objName(data, i), numeric: true, get: function (t) { return t.values ? t.values[i] : null; } }); });
    cols.push({ name: 'duration (s)', numeric: true, get: function (t) { return t.duration; } });
    data.params.forEach(function (p) {
      cols.push({ name: p.name, numeric: p.kind !== 'categorical', get: function (t) { return t.params[p.name] === undefined ? null : t.params[p.name]; } });
    });
    return cols;
  }

  function applySort(table) {
    var headers = table.tHead.rows[0].cells;
    var col = -1;
    Array.prototype.forEach.call(headers, function (h, i) {
      h.classList.remove('asc', 'desc');
      if (sort && h.textContent === sort.column) col = i;
    });
    if (col < 0) return;
    headers[col].classList.add(sort.asc ? 'asc' : 'desc');
    var numeric = headers[col].getAttribute('data-type') === 'number';
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col].getAttribute('data-v'), y = b.cells[col].getAttribute('data-v');
      if (x === '' && y !== '') return 1;
      if (y === '' && x !== '') return -1;
      var c = numeric ? Number(x) - Number(y) : x.localeCompare(y);
      return sort.asc ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }

  function drawTable(data) {
    var table = document.getElementById('trials');
    var cols = columns(data);
    var best = {};
    data.best.forEach(function (n) { best[n] = true; });
    var body = el('tbody');
    data.trials.forEach(function (t) {
      var tr = el('tr', { 'class': 'state-' + t.state.toLowerCase() + (best[t.number] ? ' best' : '') });
      cols.forEach(function (c) {
        var v = c.get(t);
        tr.appendChild(el('td', { 'data-v': v === null || v === undefined ? '' : String(v) }, fmt(v)));
      });
      body.appendChild(tr);
    });
    table.replaceChild(body, table.tBodies[0]);
    applySort(table);
  }

  function draw(data, by) {
    var rev = data.studyName;
    var multi = data.directions.length > 1;
    var counts = {};
    data.trials.forEach(function (t) { counts[t.state] = (counts[t.state] || 0) + 1; });
    var summary = Object.keys(counts).map(function (s) { return counts[s] + ' ' + s; }).join(', ') || 'no trials';
    document.getElementById('study-title').textContent = 'Study ' + data.studyName;
    document.getElementById('study-meta').textContent = 'storage ' + data.storage + ' · direction' + (multi ? 's ' : ' ') + data.directions.join(', ') + ' · ' + summary + ' · ' + by + ' ' + data.generatedAt;
    var complete = data.trials.filter(function (t) { return t.state === 'COMPLETE' && t.values; });

    // Optimisation history with best-so-far, one plot per objective.
    data.directions.forEach(function (dir, i) {
      var xs = [], ys = [], bx = [], by_ = [], best = null;
      complete.forEach(function (t) {
        var v = t.values[i];
        if (v === null || !isFinite(v)) return;
        xs.push(t.number); ys.push(v);
        if (best === null || (dir === 'minimize' ? v < best : v > best)) best = v;
        bx.push(t.number); by_.push(best);
      });
      var traces = xs.length ? [
        { x: xs, y: ys, mode: 'markers', type: 'scatter', name: 'objective value', marker: { color: '#1f77b4' } },
        { x: bx, y: by_, mode: 'lines', type: 'scatter', name: 'best so far', line: { color: '#d62728', shape: 'hv' } }
      ] : [];
      plot('plot-history-' + i, traces, { xaxis: { title: { text: 'trial' } }, yaxis: { title: { text: objName(data, i) } }, empty: 'no COMPLETE trial yet' }, rev);
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
      plot('plot-pareto', complete.length ? [tr(rest, 'dominated', '#aaaaaa'), tr(front, 'Pareto front', '#d62728')] : [], { xaxis: { title: { text: objName(data, 0) } }, yaxis: { title: { text: objName(data, 1) } }, empty: 'no COMPLETE trial yet' }, rev);
    }

    // Importance, one plot per objective.
    data.importance.forEach(function (entry, i) {
      document.getElementById('importance-note-' + i).textContent = entry.note;
      var imp = (entry.ranking || []).slice().reverse();
      plot('plot-importance-' + i, imp.length ? [{ type: 'bar', orientation: 'h', name: objName(data, i), x: imp.map(function (e) { return e[1]; }), y: imp.map(function (e) { return e[0]; }), marker: { color: '#2ca02c' }, text: imp.map(function (e) { return e[1].toFixed(3); }), textposition: 'auto' }] : [],
        { xaxis: { title: { text: 'importance to ' + objName(data, i) + ' (sums to 1)' }, range: [0, 1] }, margin: { l: 140, t: 30, r: 20, b: 50 }, empty: 'not enough COMPLETE trials' }, rev);
    });

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
    dims.push({ label: objName(data, 0), values: objVals });
    plot('plot-parallel', pc.length ? [{ type: 'parcoords', dimensions: dims, line: { color: objVals, colorscale: 'Viridis', reversescale: data.directions[0] === 'maximize', showscale: true } }] : [], { margin: { t: 60, r: 60, b: 30, l: 60 }, empty: 'no COMPLETE trial yet' }, rev);

    // Slice plot per parameter.
    data.params.forEach(function (p, i) {
      var ts = pc.filter(function (t) { return t.params[p.name] !== undefined; });
      var x = ts.map(function (t) { var v = t.params[p.name]; return p.kind === 'categorical' ? catLabel(v) : v; });
      plot('plot-slice-' + i, ts.length ? [{ type: 'scatter', mode: 'markers', x: x, y: ts.map(function (t) { return t.values[0]; }), text: ts.map(function (t) { return 'trial ' + t.number; }), marker: { color: ts.map(function (t) { return t.number; }), colorscale: 'Blues', showscale: true, colorbar: { title: { text: 'trial' } } } }] : [],
        { title: { text: p.name }, xaxis: Object.assign({ title: { text: p.name } }, paramAxis(p)), yaxis: { title: { text: objName(data, 0) } }, empty: 'no COMPLETE trial with ' + p.name }, rev);
    });

    // Intermediate values: one line per trial; pruned trials dashed and orange, running ones green.
    var iv = data.trials.filter(function (t) { return t.intermediate.length > 0; }).map(function (t) {
      return { type: 'scatter', mode: 'lines+markers', name: 'trial ' + t.number + ' (' + t.state + ')', x: t.intermediate.map(function (e) { return e[0]; }), y: t.intermediate.map(function (e) { return e[1]; }),
        line: { color: stateColors[t.state] || '#333', dash: t.state === 'PRUNED' ? 'dash' : 'solid', width: 1.5 }, marker: { size: 4 }, opacity: t.state === 'PRUNED' ? 0.8 : 1 };
    });
    plot('plot-intermediate', iv, { xaxis: { title: { text: 'step' } }, yaxis: { title: { text: 'intermediate value' } }, empty: 'no trial reported an intermediate value' }, rev);

    drawTable(data);
  }

  /** Draws (or draws again) a study's views into root; by says where the data came from and when. */
  function render(root, data, by) {
    var next = JSON.stringify([data.studyName, data.directions, data.params]);
    if (next !== shape || !root.querySelector('#trials')) {
      build(root, data);
      shape = next;
    }
    draw(data, by);
  }

  window.webtrainerViews = { render: render };
})();
`;
