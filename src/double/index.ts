import type { Logger } from '../log.js';

/**
 * The Redshift double: a PostgreSQL wire-protocol proxy in front of a real Postgres that
 * makes Redshift SQL behave as Redshift documents it. See src/double/README.md.
 *
 * STUB: until the double lands, this hands out the upstream server directly.
 */
export interface RedshiftDoubleOptions {
  upstream: { host: string; port: number; user: string; password: string };
  s3: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string };
  host?: string;
  port?: number;
  log?: Logger;
}

export interface RedshiftDouble {
  host: string;
  port: number;
  /** URL through the double to the upstream database of that name. */
  url(database: string): string;
  stop(): Promise<void>;
}

export async function startRedshiftDouble(opts: RedshiftDoubleOptions): Promise<RedshiftDouble> {
  const { host, port, user, password } = opts.upstream;
  return {
    host,
    port,
    url: (db) => `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${encodeURIComponent(db)}`,
    async stop() {},
  };
}
