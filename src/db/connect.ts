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

/** Redshift rejects unknown startup options, so its session gets SET statements instead. */
export async function connectRedshift(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: 'redshift-loader' });
  client.on('error', () => undefined);
  await client.connect();
  await client.query(`SET timezone TO 'UTC'`);
  return client;
}

export async function withConnection<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = await connect(url);
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}
