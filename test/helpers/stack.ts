import pg from 'pg';
import { inject } from 'vitest';
import type { StackEnv } from '../../src/stack/stack.js';
import { migrate } from '../../src/db/migrate.js';
import { freshDatabase } from '../../packages/redshift-double/test/stack.js';

/** A throwaway database on the stack's PostgreSQL server, and its URLs (direct, through the double, Serverless flavour): the double package's own helper. */
export { freshDatabase };

export function stackEnv(): StackEnv {
  return inject('stack');
}

/** A fresh, migrated metadata DB. */
export async function freshMetadataDb(): Promise<string> {
  const { url } = await freshDatabase('meta');
  await migrate(url);
  return url;
}

/** Runs fn with a connected client, always closing it. */
export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}
