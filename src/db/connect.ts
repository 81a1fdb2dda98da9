import pg from 'pg';
import { connectError } from './endpoint.js';
import { setStatementTimeout } from '../redshift/sql.js';

/**
 * Deadlines of a session (seconds; 0 = none): how long to wait for the server to accept
 * the connection, for one statement, and for a client that keeps a transaction open while
 * doing nothing. A hung dependency then becomes an error instead of a stalled job.
 */
export interface SessionTimeouts {
  connectSeconds: number;
  statementSeconds: number;
  idleInTransactionSeconds: number;
}

export const DEFAULT_TIMEOUTS: SessionTimeouts = { connectSeconds: 30, statementSeconds: 3600, idleInTransactionSeconds: 600 };

export function timeoutsFromEnv(env: { CONNECT_TIMEOUT_SECONDS: number; STATEMENT_TIMEOUT_SECONDS: number; IDLE_IN_TRANSACTION_TIMEOUT_SECONDS: number }): SessionTimeouts {
  return { connectSeconds: env.CONNECT_TIMEOUT_SECONDS, statementSeconds: env.STATEMENT_TIMEOUT_SECONDS, idleInTransactionSeconds: env.IDLE_IN_TRANSACTION_TIMEOUT_SECONDS };
}

/**
 * Every session the loader opens runs in UTC, so timestamps and timestamptz values are
 * read and written without any local-time shift, and with the deadlines above.
 */
export async function connect(url: string, applicationName = 'redshift-loader', timeouts: SessionTimeouts = DEFAULT_TIMEOUTS): Promise<pg.Client> {
  const options = [
    '-c TimeZone=UTC -c DateStyle=ISO,YMD -c IntervalStyle=postgres -c extra_float_digits=3',
    `-c statement_timeout=${timeouts.statementSeconds * 1000}`,
    `-c idle_in_transaction_session_timeout=${timeouts.idleInTransactionSeconds * 1000}`,
  ].join(' ');
  const client = new pg.Client({ connectionString: url, application_name: applicationName, options, connectionTimeoutMillis: timeouts.connectSeconds * 1000 });
  client.on('error', () => undefined);
  await client.connect().catch((err: unknown) => {
    throw connectError(url, err);
  });
  return client;
}

/**
 * Redshift rejects unknown startup options, so its session gets SET statements instead:
 * UTC, and case-sensitive identifiers, since Redshift otherwise folds quoted identifiers to
 * lower case (r_names.html) and mixed-case source names would not reach their tables.
 */
export async function connectRedshift(url: string, timeouts: SessionTimeouts = DEFAULT_TIMEOUTS): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: 'redshift-loader', connectionTimeoutMillis: timeouts.connectSeconds * 1000 });
  client.on('error', () => undefined);
  await client.connect().catch((err: unknown) => {
    throw connectError(url, err);
  });
  await client.query(`SET timezone TO 'UTC'`);
  await client.query(REDSHIFT_CASE_SENSITIVE_IDENTIFIERS);
  // Redshift has statement_timeout (milliseconds; 0 = none), not the idle-in-transaction one.
  await client.query(setStatementTimeout(timeouts.statementSeconds * 1000));
  return client;
}

/**
 * Ends a session at once, even with a query in flight (its socket is destroyed): the
 * server sees the client gone and rolls back; the pending query rejects.
 */
export function destroyClient(client: pg.Client | undefined): void {
  const c = client as unknown as { connection?: { stream?: { destroy(): void } } } | undefined;
  c?.connection?.stream?.destroy();
}

/**
 * The TimeZone a session on this database gets when it does not set one (server, database
 * and role defaults): what `now()` becomes in a `timestamp without time zone` column written
 * by a session that did not choose a zone. Our own sessions always run in UTC, so this
 * needs a session of its own.
 */
export async function defaultTimeZone(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url, application_name: 'redshift-loader' });
  client.on('error', () => undefined);
  await client.connect().catch((err: unknown) => {
    throw connectError(url, err);
  });
  try {
    return (await client.query<{ tz: string }>(`SELECT current_setting('TimeZone') AS tz`)).rows[0]!.tz;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Every Redshift session the product opens runs with this (r_enable_case_sensitive_identifier.html). */
export const REDSHIFT_CASE_SENSITIVE_IDENTIFIERS = 'SET enable_case_sensitive_identifier TO true';

export async function withConnection<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = await connect(url);
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}
