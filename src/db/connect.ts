import pg from 'pg';

/**
 * Every session the loader opens runs in UTC, so timestamps and timestamptz values are
 * read and written without any local-time shift.
 */
export async function connect(url: string, applicationName = 'redshift-loader'): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: applicationName, options: '-c TimeZone=UTC -c DateStyle=ISO,YMD -c IntervalStyle=postgres -c extra_float_digits=3' });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/**
 * Redshift rejects unknown startup options, so its session gets SET statements instead:
 * UTC, and case-sensitive identifiers, since Redshift otherwise folds quoted identifiers to
 * lower case (r_names.html) and mixed-case source names would not reach their tables.
 */
export async function connectRedshift(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: 'redshift-loader' });
  client.on('error', () => undefined);
  await client.connect();
  await client.query(`SET timezone TO 'UTC'`);
  await client.query(REDSHIFT_CASE_SENSITIVE_IDENTIFIERS);
  return client;
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
  await client.connect();
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
