import pg from 'pg';
import { redactUrl } from '../config/connection.js';
import { REDSHIFT_CASE_SENSITIVE_IDENTIFIERS } from '../db/connect.js';

/**
 * Where the toolkit connects: an explicit URL, else REDSHIFT_URL, else the standard
 * libpq variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE).
 */
export interface ResolvedConnection {
  config: pg.ClientConfig;
  /** For messages: the URL or host/db, password masked. */
  description: string;
}

export function resolveRedshiftConnection(url: string | undefined, env: Record<string, string | undefined> = process.env): ResolvedConnection {
  const u = url ?? (env.REDSHIFT_URL || undefined);
  if (u) {
    if (!/^(postgres|postgresql|redshift):\/\//.test(u)) throw new Error(`the Redshift URL must be postgres://user:password@host:5439/db, got ${redactUrl(u)}`);
    return { config: { connectionString: u.replace(/^redshift:\/\//, 'postgres://') }, description: redactUrl(u) };
  }
  if (!env.PGHOST) throw new Error('no Redshift connection: pass --url, or set REDSHIFT_URL, or PGHOST (with PGPORT, PGUSER, PGPASSWORD, PGDATABASE)');
  const port = env.PGPORT ? Number(env.PGPORT) : 5439;
  if (!Number.isInteger(port) || port <= 0) throw new Error(`PGPORT must be a port number, got ${JSON.stringify(env.PGPORT)}`);
  return {
    config: { host: env.PGHOST, port, user: env.PGUSER, password: env.PGPASSWORD, database: env.PGDATABASE },
    description: `${env.PGUSER ?? ''}@${env.PGHOST}:${port}/${env.PGDATABASE ?? ''}`,
  };
}

/**
 * A session in UTC with case-sensitive identifiers, as the loader's (Redshift rejects
 * startup options, so SET after connecting).
 */
export async function openRedshift(c: ResolvedConnection): Promise<pg.Client> {
  const client = new pg.Client({ ...c.config, application_name: 'redshift-loader admin' });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`cannot connect to Redshift (${c.description}): ${(err as Error).message}`);
  }
  await client.query(`SET timezone TO 'UTC'`);
  await client.query(REDSHIFT_CASE_SENSITIVE_IDENTIFIERS);
  return client;
}
