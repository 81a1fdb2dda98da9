import net from 'node:net';
import pg from 'pg';
import { makeS3 } from './s3.js';
import { Session } from './session.js';
import { ACCOUNTS_INSTALL_SQL } from './accounts-views.js';
import { INSTALL_SQL } from './system-views.js';

/**
 * The Redshift double: a PostgreSQL wire-protocol proxy in front of a real Postgres that
 * makes Redshift SQL behave as Redshift documents it. See the package README (packages/redshift-double/README.md).
 */
export interface RedshiftDoubleOptions {
  upstream: { host: string; port: number; user: string; password: string };
  s3: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string };
  host?: string;
  port?: number;
  /** Where the double reports its own trouble (a pino logger fits). */
  log?: { warn(obj: object, msg: string): void };
  /**
   * 'provisioned' (default): SERIALIZABLE isolation, loads in the STL and SYS views.
   * 'serverless': SNAPSHOT isolation (Postgres REPEATABLE READ) and loads only in the SYS views.
   * A database made with CREATE DATABASE ... ISOLATION LEVEL overrides the isolation.
   */
  flavor?: DoubleFlavor;
}

export type DoubleFlavor = 'provisioned' | 'serverless';

export interface RedshiftDouble {
  host: string;
  port: number;
  /** URL through the double to the upstream database of that name. */
  url(database: string): string;
  stop(): Promise<void>;
}

export async function startRedshiftDouble(opts: RedshiftDoubleOptions): Promise<RedshiftDouble> {
  const host = opts.host ?? '127.0.0.1';
  const s3 = makeS3(opts.s3);
  const sessions = new Set<Session>();
  const byPid = new Map<number, Session>();
  const pools = new Map<string, pg.Pool>();
  const installs = new Map<string, Promise<void>>();
  const sockets = new Set<net.Socket>();
  let stopping = false;

  const pool = (database: string): pg.Pool => {
    let p = pools.get(database);
    if (!p) {
      p = new pg.Pool({ ...opts.upstream, database, max: 3, idleTimeoutMillis: 10_000, allowExitOnIdle: true });
      p.on('error', () => undefined);
      pools.set(database, p);
    }
    return p;
  };

  const sideQuery = async (database: string, sql: string, params?: unknown[]) => (await pool(database).query(sql, params)).rows as Array<Record<string, unknown>>;

  const ensureInstalled = (database: string): Promise<void> => {
    let p = installs.get(database);
    if (!p) {
      p = (async () => {
        const c = await pool(database).connect();
        try {
          // The install changes catalog rows (blanks.ts): a template would hand them to every new database.
          const [db] = (await c.query(`SELECT datistemplate FROM pg_database WHERE datname = current_database()`)).rows as Array<{ datistemplate: boolean }>;
          if (db?.datistemplate) throw new Error(`the Redshift double does not serve template databases ("${database}")`);
          await c.query('BEGIN');
          await c.query(`SELECT pg_advisory_xact_lock(hashtext('redshift_double.install'))`);
          await c.query(INSTALL_SQL);
          await c.query(ACCOUNTS_INSTALL_SQL);
          await c.query('COMMIT');
        } catch (err) {
          await c.query('ROLLBACK').catch(() => undefined);
          throw err;
        } finally {
          // a fresh backend for later side queries: this one may cache what the install replaced
          c.release(true);
        }
      })();
      installs.set(database, p);
      p.catch(() => installs.delete(database));
    }
    return p;
  };

  const log = (msg: string, err?: unknown) => opts.log?.warn({ err }, `redshift double: ${msg}`);

  const server = net.createServer((socket) => {
    if (stopping) return socket.destroy();
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const session: Session = new Session(socket, {
      flavor: opts.flavor ?? 'provisioned',
      upstream: opts.upstream,
      s3,
      sideQuery,
      ensureInstalled,
      register: (s) => {
        sessions.add(s);
        byPid.set(s.pid, s);
      },
      unregister: (s) => {
        sessions.delete(s);
        if (byPid.get(s.pid) === s) byPid.delete(s.pid);
      },
      cancel: (pid, secret) => {
        const target = byPid.get(pid);
        if (target && target.secret === secret) target.cancel();
      },
      log,
    });
    void session;
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  const { user, password } = opts.upstream;

  return {
    host,
    port,
    url: (db) => `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${encodeURIComponent(db)}`,
    async stop() {
      stopping = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of [...sessions]) s.close();
      for (const sock of sockets) sock.destroy();
      await closed;
      await Promise.all([...pools.values()].map((p) => p.end().catch(() => undefined)));
      pools.clear();
      s3.destroy();
    },
  };
}
