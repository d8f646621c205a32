/**
 * The dashboard's page: a list of the storage's studies beside the selected study's views (the report's views,
 * src/search/report/views.ts), and a script that asks the server for both every second and draws again what
 * changed. Everything it loads comes from the dashboard's own server (server.ts), whose Content-Security-Policy
 * forbids any other origin.
 */
import { escapeHtml, VIEW_CSS } from '../report/index.js';

/** How often the page asks for the studies and the selected study, in ms. */
export const POLL_MS = 1000;

const DASHBOARD_CSS = `
body { margin: 0; }
#layout { display: grid; grid-template-columns: minmax(14rem, 18rem) 1fr; min-height: 100vh; }
nav { border-right: 1px solid #ddd; padding: 1rem; background: #fafafa; }
nav h1 { font-size: 1.1rem; margin: 0 0 0.3rem; }
#study { padding: 0 1.5rem 1.5rem; min-width: 0; }
#studies { width: 100%; margin-top: 1rem; }
#studies td, #studies th { text-align: left; border: none; border-bottom: 1px solid #eee; }
#studies td.n { text-align: right; }
#studies tr.selected td { background: #e8f0fe; font-weight: bold; }
#studies a { color: inherit; text-decoration: none; display: block; }
#status.error { color: #b00; }
`;

/** The page at `/`. `shown` is the storage URL without its password. */
export function dashboardHtml(shown: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>webtrainer dashboard — ${escapeHtml(shown)}</title>
<style>${VIEW_CSS}${DASHBOARD_CSS}</style>
<script src="plotly.min.js"></script>
</head>
<body>
<div id="layout">
<nav>
<h1>webtrainer dashboard</h1>
<p class="meta">storage ${escapeHtml(shown)}</p>
<p class="meta" id="status">connecting…</p>
<table id="studies"><thead><tr><th>study</th><th>trials</th></tr></thead><tbody></tbody></table>
</nav>
<main id="study"><p class="note">loading…</p></main>
</div>
<script src="views.js"></script>
<script src="dashboard.js"></script>
</body>
</html>
`;
}

/**
 * The page's polling script. The selected study is the URL's fragment (#NAME), else the first study. A response
 * equal to the last one (but for its time) draws nothing, so an idle study costs the browser nothing.
 */
export const DASHBOARD_SCRIPT = String.raw`
(function () {
  'use strict';
  var POLL_MS = ${POLL_MS};
  var root = document.getElementById('study');
  var status = document.getElementById('status');
  var selected = fromHash();
  var drawn = null;
  var busy = false, again = false, timer = null;

  function fromHash() {
    try { return location.hash.length > 1 ? decodeURIComponent(location.hash.slice(1)) : null; } catch (e) { return null; }
  }
  function getJson(path) {
    return fetch(path, { cache: 'no-store' }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(body && body.error ? body.error : 'HTTP ' + r.status);
        return body;
      });
    });
  }
  function note(text) {
    root.textContent = '';
    var p = document.createElement('p');
    p.className = 'note';
    p.textContent = text;
    root.appendChild(p);
    drawn = null;
  }
  function listStudies(list) {
    var body = document.createElement('tbody');
    list.studies.forEach(function (s) {
      var tr = document.createElement('tr');
      if (s.name === selected) tr.className = 'selected';
      var name = document.createElement('td');
      var a = document.createElement('a');
      a.href = '#' + encodeURIComponent(s.name);
      a.textContent = s.name;
      a.title = s.directions.join(', ');
      name.appendChild(a);
      var n = document.createElement('td');
      n.className = 'n';
      n.textContent = String(s.nTrials);
      tr.appendChild(name); tr.appendChild(n);
      body.appendChild(tr);
    });
    var table = document.getElementById('studies');
    table.replaceChild(body, table.tBodies[0]);
  }

  function poll() {
    if (busy) { again = true; return; }
    busy = true; again = false;
    clearTimeout(timer);
    getJson('api/studies').then(function (list) {
      var names = list.studies.map(function (s) { return s.name; });
      // (selected may have changed while the list was on its way: a click wins over this poll.)
      if (selected === null || names.indexOf(selected) < 0) selected = names.length ? names[0] : null;
      var want = selected;
      listStudies(list);
      if (want === null) {
        note('The storage holds no study yet; one appears here as soon as a sweep creates it.');
        return;
      }
      return getJson('api/studies/' + encodeURIComponent(want)).then(function (data) {
        if (selected !== want) return; // another study was chosen meanwhile: the next poll draws it
        var key = JSON.stringify(Object.assign({}, data, { generatedAt: null }));
        if (key !== drawn) {
          webtrainerViews.render(root, data, 'read by webtrainer dashboard at');
          drawn = key;
        }
      });
    }).then(function () {
      status.className = 'meta';
      status.textContent = 'live: read every ' + POLL_MS / 1000 + ' s, last at ' + new Date().toLocaleTimeString();
    }, function (error) {
      status.className = 'meta error';
      status.textContent = 'cannot read the storage (' + error.message + '); trying again';
    }).then(function () {
      busy = false;
      if (again) poll();
      else timer = setTimeout(poll, POLL_MS);
    });
  }

  window.addEventListener('hashchange', function () {
    selected = fromHash();
    drawn = null;
    poll();
  });
  poll();
})();
`;
