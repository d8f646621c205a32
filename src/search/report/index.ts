/**
 * `webtrainer report`'s builder: reads one study from a storage URL and writes a self-contained HTML report
 * (html.ts). Part of the study layer: no GPU code, usable from `webtrainer/search` alone.
 */
import { existsSync } from 'node:fs';
import { StudyError } from '../errors.js';
import { getStorage } from '../storage/index.js';
import { redactPostgresUrl } from '../storage/postgres-url.js';
import { sqlitePathFromUrl } from '../storage/sqlite.js';
import { reportData, type ReportData } from './data.js';
import { reportHtml } from './html.js';

export { reportData, type ReportData, type ReportParam, type ReportTrial } from './data.js';
export { reportHtml, plotlySource, escapeHtml } from './html.js';

export interface BuildReportOptions {
  /** sqlite:PATH, sqlite:///PATH or postgresql://… */
  storage: string;
  /** Which study; may be left out when the storage holds exactly one. */
  studyName?: string;
}

/** Reads the study and returns its report page and the data in it. Throws StudyError naming study and storage. */
export function buildReport(opts: BuildReportOptions): { html: string; data: ReportData } {
  const shown = redactPostgresUrl(opts.storage);
  const sqlitePath = sqlitePathFromUrl(opts.storage);
  // Opening a SQLite storage creates the file: a report must not, so a missing file is an error of its own.
  if (sqlitePath !== null && sqlitePath !== ':memory:' && !existsSync(sqlitePath)) {
    throw new StudyError(`storage ${shown}: no such file ${sqlitePath}${opts.studyName ? ` (looking for study "${opts.studyName}")` : ''}`);
  }
  const storage = getStorage(opts.storage);
  try {
    const studies = storage.getAllStudies();
    let name = opts.studyName;
    if (name === undefined) {
      if (studies.length === 0) throw new StudyError(`storage ${shown} holds no study`);
      if (studies.length > 1) {
        throw new StudyError(`storage ${shown} holds ${studies.length} studies; choose one with --study-name (${studies.map((s) => JSON.stringify(s.studyName)).join(', ')})`);
      }
      name = studies[0].studyName;
    }
    const found = studies.find((s) => s.studyName === name);
    if (!found) {
      const known = studies.length ? `; it holds ${studies.map((s) => JSON.stringify(s.studyName)).join(', ')}` : '; it holds no study';
      throw new StudyError(`no study named "${name}" in storage ${shown}${known}`);
    }
    const studyId = storage.getStudyIdFromName(name);
    const data = reportData(name, shown, storage.getStudyDirections(studyId), storage.getAllTrials(studyId));
    return { html: reportHtml(data), data };
  } finally {
    storage.close();
  }
}
