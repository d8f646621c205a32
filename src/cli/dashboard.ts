/**
 * `webtrainer dashboard --storage URL [--port P] [--host H]`: the report's views of every study in a SQLite or
 * PostgreSQL storage, served live while a sweep writes it (src/search/dashboard). Read-only; bound to 127.0.0.1
 * unless --host says otherwise. The first line of stdout is the URL. Runs until Ctrl-C, SIGTERM or SIGHUP, which
 * stop it cleanly with exit code 130, as every command. This file parses the options and waits.
 */
import { DEFAULT_HOST, DEFAULT_PORT, startDashboard } from '../search/dashboard/index.js';
import { isPostgresUrl, redactPostgresUrl } from '../search/storage/postgres-url.js';
import { sqlitePathFromUrl } from '../search/storage/sqlite.js';
import { reportActivity } from './activity.js';
import { parseOptions, UsageError } from './args.js';
import { handleInterrupts, InterruptedError } from './interrupt.js';

export async function runDashboard(argv: string[]): Promise<number> {
  const { values } = parseOptions(argv, []);
  for (const key of values.keys()) if (!['storage', 'port', 'host'].includes(key)) throw new UsageError(`unknown option --${key}`);
  const storage = values.get('storage');
  if (storage === undefined) throw new UsageError('dashboard needs --storage sqlite:PATH or postgresql://… (the study storage a sweep writes)');
  if (sqlitePathFromUrl(storage) === null && !isPostgresUrl(storage)) {
    throw new UsageError(`--storage "${redactPostgresUrl(storage)}" is not a storage URL (use sqlite:PATH, sqlite:///PATH or postgresql://USER@HOST:PORT/DB)`);
  }
  const portText = values.get('port') ?? String(DEFAULT_PORT);
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) throw new UsageError(`--port ${portText}: must be an integer from 0 to 65535 (0 picks a free port)`);
  const host = values.get('host') ?? DEFAULT_HOST;
  if (host === '') throw new UsageError('--host needs an address (127.0.0.1, 0.0.0.0, ::1, a host name)');

  let stop: (signal: NodeJS.Signals) => void = () => {};
  const stopped = new Promise<NodeJS.Signals>((resolve) => (stop = resolve));
  const interrupt = handleInterrupts((signal) => stop(signal));
  try {
    const dashboard = await startDashboard({ storage, host, port });
    try {
      const n = dashboard.studies;
      process.stdout.write(`dashboard: ${dashboard.url} (storage ${dashboard.storage}, ${n} stud${n === 1 ? 'y' : 'ies'}); Ctrl-C stops\n`);
      reportActivity({ doing: `serving the dashboard at ${dashboard.url}` });
      const signal = interrupt.signal ?? (await stopped);
      throw new InterruptedError(`interrupted by ${signal}: dashboard stopped`);
    } finally {
      await dashboard.close();
    }
  } finally {
    interrupt.dispose();
  }
}
