/** `webtrainer dashboard`: a study storage's studies, live in a browser (server.ts, page.ts). Study layer: no GPU. */
export { startDashboard, DEFAULT_HOST, DEFAULT_PORT, type Dashboard, type DashboardOptions } from './server.js';
export { dashboardHtml, DASHBOARD_SCRIPT, POLL_MS } from './page.js';
