/**
 * A private PostgreSQL server for the tests: `initdb` into a temporary folder, `pg_ctl start` on a free port of
 * 127.0.0.1 with its socket in that folder, trust authentication for one user, fsync off; stopped (immediate
 * shutdown) and deleted by stop(), or at process exit if a test run ends without calling it (a test process that is
 * SIGKILLed leaves it running, in its wt-pg-* folder). A test takes a fresh schema of its own (createSchema).
 * PostgreSQL refuses to run as root: as root the server runs as the `postgres` user (Debian's package creates it),
 * which then owns the folder. The binaries come from $PG_BIN, else the newest /usr/lib/postgresql/<N>/bin
 * (Debian's `postgresql` package), else PATH. Missing binaries are an error that says how to install them, never
 * a skip: `.ci/run` installs them (scripts/ensure-postgres.sh).
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createRequire } from 'node:module';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';

export interface PostgresServer {
  host: string;
  port: number;
  user: string;
  /** `postgresql://USER@127.0.0.1:PORT/` — add a database name (`postgres` exists). */
  baseUrl: string;
  /**
   * Creates a fresh, empty schema in database `postgres` and returns a URL whose search_path is that schema
   * (`?options=-c search_path=…`): a clean storage in a few ms.
   */
  createSchema(): Promise<string>;
  /** Immediate shutdown and removal of the folder; safe to call twice. */
  stop(): void;
}

const USER = 'webtrainer';

/** The part of pg's Client used here (pg ships no types). */
interface PgClient {
  on(event: 'error', listener: (err: Error) => void): void;
  connect(): Promise<void>;
  query(sql: string): Promise<unknown>;
  end(): Promise<void>;
}
const pg = createRequire(import.meta.url)('pg') as { Client: new (config: { connectionString: string }) => PgClient };

/** The folder holding initdb and pg_ctl, or an Error saying how to get them. */
export function findPostgresBin(): string {
  const has = (dir: string): boolean => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'));
  const candidates: string[] = [];
  if (process.env.PG_BIN) candidates.push(process.env.PG_BIN);
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const versions = readdirSync(debian).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => join(debian, v, 'bin')));
  }
  candidates.push(...(process.env.PATH ?? '').split(delimiter).filter(Boolean));
  const found = candidates.find(has);
  if (!found) {
    throw new Error(
      'PostgreSQL server binaries (initdb, pg_ctl) not found in $PG_BIN, /usr/lib/postgresql/<version>/bin or PATH: ' +
        'the PostgreSQL storage tests need them. Install Debian\'s package (apt-get install -y postgresql, as `bash scripts/ensure-postgres.sh` does in CI) or set PG_BIN.',
    );
  }
  return found;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Looks up a user's uid and gid with `id` (as root the server runs as this user). */
function idOf(user: string): { uid: number; gid: number } {
  const uid = spawnSync('id', ['-u', user], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', user], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) {
    throw new Error(`running as root, the test PostgreSQL server needs the "${user}" user (Debian's postgresql package creates it): ${uid.stderr.trim()}`);
  }
  return { uid: Number(uid.stdout), gid: Number(gid.stdout) };
}

/**
 * A new folder for the server, owned by the user it runs as: under the temporary folder, or /tmp where that one is
 * out of the server user's reach (root's private TMPDIR) or too deep for a socket path (about 100 bytes at most).
 */
function serverDir(owner: { uid: number; gid: number } | null, runuser: string | undefined, runAs: string): string {
  for (const base of [...new Set([tmpdir(), '/tmp'])]) {
    const dir = mkdtempSync(join(base, 'wt-pg-'));
    let usable = dir.length <= 80;
    if (usable && owner) {
      chownSync(dir, owner.uid, owner.gid);
      usable = spawnSync(runuser!, ['-u', runAs, '--', 'test', '-w', dir]).status === 0;
    }
    if (usable) return dir;
    rmSync(dir, { recursive: true, force: true });
  }
  throw new Error(`test PostgreSQL server: no temporary folder that the "${runAs}" user can write to (tried ${tmpdir()} and /tmp)`);
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = findPostgresBin();
  const asRoot = process.getuid?.() === 0;
  const runAs = asRoot ? 'postgres' : userInfo().username;
  // runuser (util-linux) lives in sbin, which a non-login PATH may lack.
  const runuser = asRoot ? ['/usr/sbin/runuser', '/sbin/runuser', '/usr/bin/runuser', '/bin/runuser'].find((p) => existsSync(p)) : undefined;
  if (asRoot && !runuser) throw new Error('running as root, the test PostgreSQL server needs runuser (util-linux) to run as the "postgres" user');
  const owner = asRoot ? idOf(runAs) : null;
  const dir = serverDir(owner, runuser, runAs);
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  const run = (tool: string, args: string[], timeoutMs = 60_000): SpawnSyncReturns<string> => {
    const cmd = runuser ?? join(bin, tool);
    const argv = asRoot ? ['-u', runAs, '--', join(bin, tool), ...args] : args;
    return spawnSync(cmd, argv, { encoding: 'utf8', timeout: timeoutMs, cwd: dir });
  };
  const failed = (what: string, r: SpawnSyncReturns<string>): Error => {
    const logText = existsSync(log) ? readFileSync(log, 'utf8').slice(-2000) : '';
    return new Error(`test PostgreSQL server: ${what} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout}${r.stderr}${logText}`);
  };

  let stopped = false;
  let started = false;
  let admin: Promise<PgClient> | null = null;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', stop);
    admin?.then((c) => c.end()).catch(() => {});
    if (started) run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', '-t', '20', 'stop'], 30_000);
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', stop);

  try {
    const init = run('initdb', ['-D', data, '--auth=trust', `--username=${USER}`, '--encoding=UTF8', '--locale=C', '--no-sync', '--no-instructions']);
    if (init.status !== 0) throw failed('initdb', init);
    let port = 0;
    started = true; // from here on the server may be running: stop() stops it
    for (let attempt = 0; ; attempt++) {
      port = await freePort();
      const opts = [`-p ${port}`, `-k ${dir}`, "-c listen_addresses=127.0.0.1", '-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off', '-c max_connections=60', '-c shared_buffers=16MB'];
      const r = run('pg_ctl', ['-D', data, '-l', log, '-w', '-t', '30', '-s', '-o', opts.join(' '), 'start']);
      if (r.status === 0) break;
      // Another process may have taken the port between the probe and the start: try another one.
      if (attempt >= 2 || !(existsSync(log) && readFileSync(log, 'utf8').includes('could not bind'))) throw failed('pg_ctl start', r);
    }
    const host = '127.0.0.1';
    const baseUrl = `postgresql://${USER}@${host}:${port}/`;
    let counter = 0;
    return {
      host,
      port,
      user: USER,
      baseUrl,
      async createSchema() {
        admin ??= (async () => {
          const c = new pg.Client({ connectionString: `${baseUrl}postgres` });
          c.on('error', () => {}); // the server stopping under it
          await c.connect();
          return c;
        })();
        const name = `s${process.pid}_${counter++}`;
        await (await admin).query(`CREATE SCHEMA ${name}`);
        return `${baseUrl}postgres?options=${encodeURIComponent(`-c search_path=${name}`)}`;
      },
      stop,
    };
  } catch (err) {
    stop();
    throw err;
  }
}
