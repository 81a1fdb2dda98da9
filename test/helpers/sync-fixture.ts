import { PassThrough } from 'node:stream';
import pg from 'pg';
import { loadEnv, type Env } from '../../src/config/env.js';
import { REDSHIFT_CASE_SENSITIVE_IDENTIFIERS } from '../../src/db/connect.js';
import { createLogger, type Logger } from '../../src/log.js';
import { createS3Client, listKeys } from '../../src/s3/client.js';
import { syncJob, type JobResult, type SyncDeps } from '../../src/sync/engine.js';
import { redshiftTarget, type RedshiftTarget } from './redshift.js';
import { freshDatabase, freshMetadataDb } from './stack.js';

/**
 * One isolated world for a sync test: a migrated metadata DB, a source DB, a schema on
 * the Redshift target, and a job pointing at them (connection strings through env:).
 */
export interface SyncFixture {
  metaUrl: string;
  sourceUrl: string;
  target: RedshiftTarget;
  env: Env;
  jobName: string;
  jobId: number;
  logs: Array<Record<string, unknown>>;
  log: Logger;
  source(sql: string, params?: unknown[]): Promise<pg.QueryResult>;
  redshift(sql: string, params?: unknown[]): Promise<pg.QueryResult>;
  meta(sql: string, params?: unknown[]): Promise<pg.QueryResult>;
  addTable(t: { source: string; mode: string; primaryKey?: string | null; updatedKey?: string | null; rowLimit?: number; chunkSize?: number; destination?: string; sourceSchema?: string }): Promise<number>;
  sync(opts?: { table?: string; deps?: Partial<SyncDeps> }): Promise<JobResult>;
  s3Keys(): Promise<string[]>;
  close(): Promise<void>;
}

export async function syncFixture(prefix: string, envOverrides: Record<string, string> = {}, opts: { flavor?: 'provisioned' | 'serverless' } = {}): Promise<SyncFixture> {
  const metaUrl = await freshMetadataDb();
  const source = await freshDatabase(`${prefix}_src`);
  const target = await redshiftTarget(prefix, opts);
  const jobName = `${prefix}_job`;
  const srcVar = `RL_TEST_SRC_${prefix.toUpperCase()}`;
  const dstVar = `RL_TEST_DST_${prefix.toUpperCase()}`;
  process.env[srcVar] = source.url;
  process.env[dstVar] = target.url;
  const env = loadEnv({ DATABASE_URL: metaUrl, ...target.env, REDSHIFT_SLICES: '2', ...envOverrides });
  const logs: Array<Record<string, unknown>> = [];
  const out = new PassThrough();
  out.on('data', (d: Buffer) => {
    for (const line of d.toString().split('\n')) if (line) logs.push(JSON.parse(line));
  });
  const log = createLogger({ destination: out, pretty: false, level: 'debug' });
  const clients: pg.Client[] = [];
  const client = async (url: string) => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query(`SET timezone TO 'UTC'`);
    clients.push(c);
    return c;
  };
  const src = await client(source.url);
  const rs = await client(target.url);
  // The test's own Redshift session runs as the product's do: quoted mixed-case names keep their case.
  await rs.query(REDSHIFT_CASE_SENSITIVE_IDENTIFIERS);
  const md = await client(metaUrl);
  const job = await md.query<{ id: number }>(
    `INSERT INTO jobs (name, source_connection_string, destination_connection_string, destination_schema, s3_prefix)
     VALUES ($1, $2, $3, $4, $5) RETURNING id`,
    [jobName, `env:${srcVar}`, `env:${dstVar}`, target.schema, `redshift-loader-test/${jobName}`],
  );
  const jobId = job.rows[0]!.id;
  const s3 = createS3Client(env);
  return {
    metaUrl,
    sourceUrl: source.url,
    target,
    env,
    jobName,
    jobId,
    logs,
    log,
    source: (sql, params) => src.query(sql, params as unknown[]),
    redshift: (sql, params) => rs.query(sql, params as unknown[]),
    meta: (sql, params) => md.query(sql, params as unknown[]),
    async addTable(t) {
      const r = await md.query<{ id: number }>(
        `INSERT INTO tables (job_id, source_schema, source_name, destination_name, copy_mode, primary_key, updated_key, row_limit, chunk_size)
         VALUES ($1, $2, $3, $4, $5::copy_mode, $6, $7, $8, $9) RETURNING id`,
        [jobId, t.sourceSchema ?? 'public', t.source, t.destination ?? null, t.mode, t.primaryKey ?? null, t.updatedKey ?? null, t.rowLimit ?? null, t.chunkSize ?? null],
      );
      return r.rows[0]!.id;
    },
    sync: (opts = {}) => syncJob(metaUrl, jobName, { tableGlob: opts.table }, { env, log, s3, ...opts.deps }),
    s3Keys: () => listKeys(s3, env.S3_BUCKET!, `redshift-loader-test/${jobName}/`),
    async close() {
      for (const c of clients) await c.end().catch(() => undefined);
      await target.cleanup().catch(() => undefined);
      s3.destroy();
    },
  };
}

/**
 * Waits until every transaction older than now has ended on the source's server (its
 * snapshot xmin has passed a fresh transaction id). The seen filter (plan.ts) trusts only
 * rows older than a run's first snapshot xmin, which any open transaction on the server
 * holds back, in any database: other test files run beside this one. Only tests that
 * count re-read rows need this; correctness never depends on it.
 */
export async function quiesce(f: Pick<SyncFixture, 'source'>, timeoutMs = 30_000): Promise<void> {
  const xid = (await f.source('SELECT txid_current()::text AS x')).rows[0].x as string;
  const end = Date.now() + timeoutMs;
  for (;;) {
    const r = await f.source('SELECT txid_snapshot_xmin(txid_current_snapshot()) > $1::bigint AS ok', [xid]);
    if (r.rows[0].ok) return;
    if (Date.now() > end) {
      const holders = await f.source(
        `SELECT datname, application_name, state, backend_type, backend_xid::text AS xid, backend_xmin::text AS xmin,
                now() - xact_start AS age, left(query, 120) AS query
           FROM pg_stat_activity WHERE backend_xid IS NOT NULL OR backend_xmin IS NOT NULL ORDER BY xact_start NULLS LAST`,
      );
      const slots = await f.source(`SELECT slot_name, database, active, xmin::text, catalog_xmin::text FROM pg_replication_slots`);
      throw new Error(
        `quiesce: a transaction older than ${xid} is still open on the source server after ${timeoutMs} ms; ` +
          `holders: ${JSON.stringify(holders.rows)}; slots: ${JSON.stringify(slots.rows)}`,
      );
    }
    await new Promise((res) => setTimeout(res, 50));
  }
}
