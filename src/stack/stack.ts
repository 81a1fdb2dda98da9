import { rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startRedshiftDouble, type RedshiftDouble } from 'redshift-double';
import type { Logger } from '../log.js';
import { externalPostgres, startEmbeddedPostgres, type PostgresServer } from './postgres.js';
import { startS3Server, type S3Server } from './s3.js';

/**
 * The local stack: an embedded PostgreSQL (metadata DB, a `source` DB and the Redshift
 * double's upstream), an S3 server with a bucket, and the Redshift double. `npm run stack`
 * and the test suite's global setup both use this, so users and tests see one stack.
 */
export interface Stack {
  env: StackEnv;
  postgres: PostgresServer;
  s3: S3Server;
  redshift: RedshiftDouble;
  /** The same double in its Serverless flavour (SNAPSHOT isolation, loads only in the SYS views). */
  redshiftServerless: RedshiftDouble;
  stop(): Promise<void>;
}

export interface StackEnv {
  DATABASE_URL: string;
  SOURCE_URL: string;
  REDSHIFT_URL: string;
  /** The Redshift double's Serverless flavour on the same upstream (packages/redshift-double/README.md). */
  REDSHIFT_SERVERLESS_URL: string;
  S3_ENDPOINT: string;
  S3_BUCKET: string;
  S3_FORCE_PATH_STYLE: string;
  AWS_REGION: string;
  AWS_ACCESS_KEY_ID: string;
  AWS_SECRET_ACCESS_KEY: string;
  REDSHIFT_IAM_ROLE: string;
  /** Admin URL of the Postgres server (tests create throwaway databases with it). */
  STACK_POSTGRES_URL: string;
}

export interface StackOptions {
  dir?: string;
  /** Use an existing server instead of starting one (admin URL, e.g. TEST_DATABASE_URL). */
  postgresUrl?: string;
  bucket?: string;
  log?: Logger;
}

export const STACK_DATABASES = { metadata: 'redshift_loader', source: 'source', redshift: 'dev' } as const;
export const STACK_IAM_ROLE = 'arn:aws:iam::123456789012:role/redshift-loader-local';

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const dir = opts.dir ?? path.join(os.tmpdir(), `redshift-loader-stack-${process.pid}`);
  const bucket = opts.bucket ?? 'redshift-loader-local';
  const started: Array<() => Promise<void>> = [];
  // The folder is ours when we chose it: removed last, once the servers' files are gone.
  if (!opts.dir) started.push(() => rm(dir, { recursive: true, force: true }));
  let stopping: Promise<void> | undefined;
  const stopAll = () =>
    (stopping ??= (async () => {
      for (const stop of [...started].reverse()) await stop().catch(() => undefined);
    })());
  try {
    const postgres = opts.postgresUrl ? externalPostgres(opts.postgresUrl) : await startEmbeddedPostgres({ dir });
    started.push(() => postgres.stop());
    const s3 = await startS3Server({ dir, bucket });
    started.push(() => s3.stop());
    const databaseUrl = await postgres.createDatabase(STACK_DATABASES.metadata);
    const sourceUrl = await postgres.createDatabase(STACK_DATABASES.source);
    await postgres.createDatabase(STACK_DATABASES.redshift);
    const doubleOpts = {
      upstream: { host: postgres.host, port: postgres.port, user: postgres.user, password: postgres.password },
      s3: { endpoint: s3.endpoint, region: s3.region, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      log: opts.log,
    };
    const redshift = await startRedshiftDouble(doubleOpts);
    started.push(() => redshift.stop());
    const redshiftServerless = await startRedshiftDouble({ ...doubleOpts, flavor: 'serverless' });
    started.push(() => redshiftServerless.stop());
    const env: StackEnv = {
      DATABASE_URL: databaseUrl,
      SOURCE_URL: sourceUrl,
      REDSHIFT_URL: redshift.url(STACK_DATABASES.redshift),
      REDSHIFT_SERVERLESS_URL: redshiftServerless.url(STACK_DATABASES.redshift),
      S3_ENDPOINT: s3.endpoint,
      S3_BUCKET: bucket,
      S3_FORCE_PATH_STYLE: 'true',
      AWS_REGION: s3.region,
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      REDSHIFT_IAM_ROLE: STACK_IAM_ROLE,
      STACK_POSTGRES_URL: postgres.url('postgres'),
    };
    return { env, postgres, s3, redshift, redshiftServerless, stop: () => stopAll() };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

export function envFileText(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([k, v]) => `export ${k}='${v.replace(/'/g, `'\\''`)}'`)
    .join('\n') + '\n';
}

export async function writeEnvFile(file: string, env: Record<string, string>): Promise<void> {
  await writeFile(file, envFileText(env), { mode: 0o600 });
}
