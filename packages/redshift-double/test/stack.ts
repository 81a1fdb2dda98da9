import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

/**
 * The servers the double's tests run against, provided to vitest as `stack` by the suite
 * that runs them (the loader's test/global-setup.ts starts a PostgreSQL server, an S3
 * server and this double): the upstream admin URL, the double's URLs, S3.
 */
export interface DoubleTestEnv {
  STACK_POSTGRES_URL: string;
  REDSHIFT_URL: string;
  REDSHIFT_SERVERLESS_URL: string;
  S3_ENDPOINT: string;
  S3_BUCKET: string;
  AWS_REGION: string;
  AWS_ACCESS_KEY_ID: string;
  AWS_SECRET_ACCESS_KEY: string;
  REDSHIFT_IAM_ROLE: string;
}

export function stackEnv(): DoubleTestEnv {
  return inject('stack' as never) as unknown as DoubleTestEnv;
}

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

/** A throwaway database on the upstream server, and its URLs (direct, through the double, Serverless flavour). */
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
  return { name, url: withDatabase(env.STACK_POSTGRES_URL, name), redshiftUrl: withDatabase(env.REDSHIFT_URL, name), serverlessUrl: withDatabase(env.REDSHIFT_SERVERLESS_URL, name) };
}
