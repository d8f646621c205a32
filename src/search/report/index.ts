/**
 * `webtrainer report`'s builder: reads one study from a storage URL, read-only (source.ts), and writes a
 * self-contained HTML report (html.ts). Part of the study layer: no GPU code, usable from `webtrainer/search` alone.
 */
import { StudyError } from '../errors.js';
import { reportData, type ReportData } from './data.js';
import { reportHtml } from './html.js';
import { openStudySource, type StudyContents, type StudySource } from './source.js';

export { reportData, type ReportData, type ReportImportance, type ReportParam, type ReportTrial } from './data.js';
export { reportHtml, plotlyPath, plotlySource, escapeHtml } from './html.js';
export { openStudySource, type StudyContents, type StudySource } from './source.js';
export { VIEW_CSS, VIEW_SCRIPT } from './views.js';

export interface BuildReportOptions {
  /** sqlite:PATH, sqlite:///PATH or postgresql://… */
  storage: string;
  /** Which study; may be left out when the storage holds exactly one. */
  studyName?: string;
}

/** Reads the study and returns its report page and the data in it. Throws StudyError naming study and storage. */
export function buildReport(opts: BuildReportOptions): { html: string; data: ReportData } {
  let source: StudySource;
  try {
    source = openStudySource(opts.storage);
  } catch (error) {
    if (error instanceof StudyError && opts.studyName) error.message += ` (looking for study "${opts.studyName}")`;
    throw error;
  }
  try {
    const data = readStudyData(source, opts.studyName);
    return { html: reportHtml(data), data };
  } finally {
    source.close();
  }
}

/**
 * The report data of study `name` (or of the only study when name is undefined), read now from the source.
 * Throws StudyError naming the storage and the studies it holds when there is no such study.
 */
export function readStudyData(source: StudySource, name: string | undefined): ReportData {
  const shown = source.shown;
  if (name === undefined) {
    const studies = source.studies();
    if (studies.length === 0) throw new StudyError(`storage ${shown} holds no study`);
    if (studies.length > 1) {
      throw new StudyError(`storage ${shown} holds ${studies.length} studies; choose one with --study-name (${studies.map((s) => JSON.stringify(s.studyName)).join(', ')})`);
    }
    name = studies[0].studyName;
  }
  let contents: StudyContents;
  try {
    contents = source.study(name);
  } catch (error) {
    if (!(error instanceof StudyError) || !/^no study named/.test(error.message)) throw error;
    const studies = source.studies();
    const known = studies.length ? `; it holds ${studies.map((s) => JSON.stringify(s.studyName)).join(', ')}` : '; it holds no study';
    throw new StudyError(`no study named "${name}" in storage ${shown}${known}`);
  }
  return reportData(name, shown, contents.directions, contents.trials);
}
