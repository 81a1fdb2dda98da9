import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import type { StackEnv } from '../../src/stack/stack.js';
import { migrate } from '../../src/db/migrate.js';

export function stackEnv(): StackEnv {
  return inject('stack');
}

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

/** Creates a throwaway database on the stack's PostgreSQL server; returns its URL. */
export async function freshDatabase(prefix: string): Promise<{ name: string; url: string; redshiftUrl: string; serverlessUrl: string }> {
  const env = stackEnv();
  const name = `${prefix}_${randomBytes(4).toString('hex')}`.toLowerCase();
  const admin = new pg.Client({ connectionString: env.STACK_POSTGRES_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } finally {
    await admin.end();
  }
  return {
    name,
    url: withDatabase(env.STACK_POSTGRES_URL, name),
    redshiftUrl: withDatabase(env.REDSHIFT_URL, name),
    serverlessUrl: withDatabase(env.REDSHIFT_SERVERLESS_URL, name),
  };
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
