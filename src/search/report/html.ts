/**
 * A study report as one self-contained HTML file: the data inlined as JSON, the plotting library inlined as a
 * <script>, and the views' script (views.ts, shared with the dashboard) that draws the plots and the sortable table.
 * The page makes no network request and works offline (test/cli/report.test.ts opens it in headless Chromium with
 * every request blocked).
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
import { VIEW_CSS, VIEW_SCRIPT } from './views.js';

const PLOTLY_FILE = 'plotly.js-dist-min/plotly.min.js';

/** The plotting library's file (the dashboard serves it as is). */
export function plotlyPath(): string {
  return createRequire(import.meta.url).resolve(PLOTLY_FILE);
}

/** The plotting library's source, ready to sit inside a <script> element. */
export function plotlySource(): string {
  const path = plotlyPath();
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

/** The whole page. `plotly` is the library's source (plotlySource()). */
export function reportHtml(data: ReportData, plotly: string = plotlySource()): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data: blob:; font-src data:; worker-src blob:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(`Study ${data.studyName}`)} — webtrainer report</title>
<style>${VIEW_CSS}</style>
<script>${plotly}</script>
</head>
<body>
<main id="study"><noscript><p>This report draws its plots and its trial table with JavaScript; allow it to see them.</p></noscript></main>
<script id="report-data" type="application/json">${scriptJson(data)}</script>
<script>${VIEW_SCRIPT}</script>
<script>webtrainerViews.render(document.getElementById('study'), JSON.parse(document.getElementById('report-data').textContent), 'written by webtrainer report at');</script>
</body>
</html>
`;
}
