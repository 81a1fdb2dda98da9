import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { freshDatabase, stackEnv } from './stack.js';

/**
 * Where the loader's integration tests load to. By default the Redshift double of the test
 * stack; with REDSHIFT_TEST_URL, REDSHIFT_TEST_IAM_ROLE and REDSHIFT_TEST_S3_BUCKET set,
 * a real cluster and real S3 (AWS credentials from the usual AWS_* variables).
 */
export interface RedshiftTarget {
  url: string;
  schema: string;
  iamRole: string;
  real: boolean;
  /** Env for the loader: S3 settings for this target. */
  env: Record<string, string | undefined>;
  cleanup(): Promise<void>;
}

export function realRedshiftConfigured(): boolean {
  return !!(process.env.REDSHIFT_TEST_URL && process.env.REDSHIFT_TEST_IAM_ROLE && process.env.REDSHIFT_TEST_S3_BUCKET);
}

export const targetDescription = realRedshiftConfigured()
  ? 'real Redshift (REDSHIFT_TEST_URL)'
  : 'the Redshift double (set REDSHIFT_TEST_URL, REDSHIFT_TEST_IAM_ROLE and REDSHIFT_TEST_S3_BUCKET to run against a real cluster)';

/**
 * A fresh target schema. `flavor: 'serverless'` uses the double's Redshift Serverless
 * endpoint (SNAPSHOT isolation, no STL views); against a real cluster it is ignored.
 */
export async function redshiftTarget(prefix: string, opts: { flavor?: 'provisioned' | 'serverless' } = {}): Promise<RedshiftTarget> {
  const schema = `${prefix}_${randomBytes(4).toString('hex')}`.toLowerCase();
  if (realRedshiftConfigured()) {
    const url = process.env.REDSHIFT_TEST_URL!;
    await runOn(url, `CREATE SCHEMA ${pg.escapeIdentifier(schema)}`);
    return {
      url,
      schema,
      iamRole: process.env.REDSHIFT_TEST_IAM_ROLE!,
      real: true,
      env: { S3_BUCKET: process.env.REDSHIFT_TEST_S3_BUCKET, S3_ENDPOINT: undefined, S3_FORCE_PATH_STYLE: undefined, REDSHIFT_IAM_ROLE: process.env.REDSHIFT_TEST_IAM_ROLE },
      cleanup: () => runOn(url, `DROP SCHEMA ${pg.escapeIdentifier(schema)} CASCADE`),
    };
  }
  const s = stackEnv();
  const db = await freshDatabase(prefix);
  const url = opts.flavor === 'serverless' ? db.serverlessUrl : db.redshiftUrl;
  await runOn(url, `CREATE SCHEMA ${pg.escapeIdentifier(schema)}`);
  return {
    url,
    schema,
    iamRole: s.REDSHIFT_IAM_ROLE,
    real: false,
    env: {
      S3_BUCKET: s.S3_BUCKET,
      S3_ENDPOINT: s.S3_ENDPOINT,
      S3_FORCE_PATH_STYLE: 'true',
      AWS_REGION: s.AWS_REGION,
      AWS_ACCESS_KEY_ID: s.AWS_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: s.AWS_SECRET_ACCESS_KEY,
      REDSHIFT_IAM_ROLE: s.REDSHIFT_IAM_ROLE,
    },
    cleanup: async () => undefined,
  };
}

async function runOn(url: string, sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}
