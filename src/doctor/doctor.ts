import { randomBytes } from 'node:crypto';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type pg from 'pg';
import { resolveConnectionString } from '../config/connection.js';
import type { Env } from '../config/env.js';
import { connect, connectRedshift, defaultTimeZone, timeoutsFromEnv } from '../db/connect.js';
import { ConnectError, endpointOf } from '../db/endpoint.js';
import { inspectMetadataDb, MetadataUnreachable } from '../db/metadata-check.js';
import { redactText, type Logger } from '../log.js';
import { copyFromManifest, dropTempTable, lastCopyCount, type CopyAuth } from '../redshift/sql.js';
import { S3Error, createS3Client, deletePrefix, getText, listKeys, manifestFor, putText, s3Url } from '../s3/client.js';
import { quoteIdent, qualify } from '../sql/quote.js';
import { compressionFromEnv, fileSuffix } from '../extract/compress.js';
import { CSV_NULL } from '../redshift/csv.js';
import { copyAuth, jobS3 } from '../sync/engine.js';
import { describeLoadErrors } from '../sync/load.js';
import * as meta from '../metadata/store.js';
import type { JobRow, TableRow } from '../metadata/types.js';
import { PROBE_ROWS, probeFile } from './probe.js';
import * as dsql from './sql.js';
import { CdcSourceError, cdcNames, checkSource as checkCdcPrerequisites, inspectSlot } from '../sync/cdc/slot.js';

/**
 * `redshift-loader doctor --job NAME`: everything a job needs, checked one by one against
 * the real metadata DB, source, cluster and bucket, each with what to do when it fails;
 * last, a tiny load through S3 that shows the cluster reads the loader's files (zstd in
 * several frames, or gzip) the way the loader means them, value by value. It writes only
 * a probe file under the job's S3 prefix (deleted after) and a temporary table.
 */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface Check {
  status: CheckStatus;
  name: string;
  detail: string;
  fix?: string;
}

export interface DoctorOptions {
  env: Env;
  jobName: string;
  log: Logger;
  /** Called with each check as it finishes (the CLI prints it). */
  onCheck?: (c: Check) => void;
  s3?: S3Client;
}

const LABEL: Record<CheckStatus, string> = { ok: 'ok', warn: 'WARN', fail: 'FAIL', skip: 'skip' };

/** One line per check: status, name, what was found, and for a failure or warning the fix. */
export function formatCheck(c: Check): string {
  return `${LABEL[c.status].padEnd(5)} ${c.name}: ${redactText(c.detail)}${c.fix ? `. Fix: ${redactText(c.fix)}` : ''}`;
}

const q = quoteIdent;
const list = (xs: string[], max = 5) => `${xs.slice(0, max).join(', ')}${xs.length > max ? ` and ${xs.length - max} more` : ''}`;
const errText = (e: unknown) => redactText(e instanceof Error ? e.message : String(e));
/** Where a connection string comes from, without its secret: `env:NAME` or "the URL in jobs.<column>". */
const origin = (value: string, column: string) => (value.trim().startsWith('env:') ? `${value.trim()} (jobs.${column})` : `jobs.${column}`);

export async function runDoctor(o: DoctorOptions): Promise<Check[]> {
  const checks: Check[] = [];
  const add = (c: Check) => {
    checks.push(c);
    o.onCheck?.(c);
    return c;
  };
  const { env } = o;
  const timeouts = timeoutsFromEnv(env);

  // 1. The metadata DB.
  let migrated = false;
  try {
    const m = await inspectMetadataDb(env.DATABASE_URL!, timeouts);
    if (m.empty) add({ status: 'fail', name: 'metadata DB', detail: `${m.endpoint} is reachable but has no redshift-loader tables`, fix: 'run redshift-loader migrate (or check that DATABASE_URL names the right database)' });
    else if (m.missing.length > 0) add({ status: 'fail', name: 'metadata DB', detail: `${m.endpoint} is missing ${m.missing.length} migration(s): ${list(m.missing)}`, fix: 'run redshift-loader migrate' });
    else {
      migrated = true;
      add({ status: 'ok', name: 'metadata DB', detail: `${m.endpoint} reachable and migrated` });
    }
  } catch (err) {
    const e = err instanceof MetadataUnreachable ? err : null;
    add({ status: 'fail', name: 'metadata DB', detail: e ? `cannot connect to ${e.endpoint}: ${e.reason}` : errText(err), fix: 'check DATABASE_URL and that the server accepts connections from this host' });
  }
  if (!migrated) {
    add({ status: 'skip', name: 'everything else', detail: 'the other checks read the job from a migrated metadata DB' });
    return checks;
  }

  // 2. The job.
  let job: JobRow;
  let tables: TableRow[];
  const db = await connect(env.DATABASE_URL!, 'redshift-loader doctor', timeouts);
  try {
    try {
      job = await meta.getJobByName(db, o.jobName);
    } catch (err) {
      add({ status: 'fail', name: 'job', detail: errText(err), fix: 'give the name of a jobs row (--job), or insert the job (README: Configuring a job by hand)' });
      return checks;
    }
    tables = (await meta.listTables(db, job.id)).filter((t) => !t.disabled);
  } finally {
    await db.end().catch(() => undefined);
  }
  if (!job.enabled) add({ status: 'warn', name: 'job', detail: `"${job.name}" is disabled (jobs.enabled): the worker does not run it`, fix: `UPDATE jobs SET enabled = true WHERE name = '${job.name.replace(/'/g, "''")}'` });
  else if (tables.length === 0) add({ status: 'warn', name: 'job', detail: `"${job.name}" has no enabled tables: a sync does nothing`, fix: `redshift-loader setup --job ${job.name}` });
  else add({ status: 'ok', name: 'job', detail: `"${job.name}": ${tables.length} enabled table(s)` });

  await checkSource(o, job, tables, add);
  const rs = await checkRedshift(o, job, tables, add);
  try {
    const s3ok = await checkS3(o, job, add);
    if (rs && s3ok) await checkCopy(o, job, rs, add);
    else add({ status: 'skip', name: 'COPY round trip', detail: `needs ${[rs ? null : 'Redshift', s3ok ? null : 'S3'].filter(Boolean).join(' and ')}, which failed above` });
  } finally {
    await rs?.end().catch(() => undefined);
  }
  return checks;
}

type Add = (c: Check) => Check;

/** Opens a session, or adds the failure naming the side, the server and the fix. */
async function open(what: 'source' | 'Redshift', job: JobRow, column: 'source_connection_string' | 'destination_connection_string', env: Env, add: Add): Promise<{ client: pg.Client; url: string } | null> {
  const value = column === 'source_connection_string' ? job.sourceConnectionString : job.destinationConnectionString;
  let url: string;
  try {
    url = resolveConnectionString(value, `job "${job.name}" ${column}`);
  } catch (err) {
    add({ status: 'fail', name: what, detail: errText(err), fix: `set the environment variable, or put a postgres:// URL in jobs.${column}` });
    return null;
  }
  try {
    const client = what === 'source' ? await connect(url, 'redshift-loader doctor', timeoutsFromEnv(env)) : await connectRedshift(url, timeoutsFromEnv(env));
    return { client, url };
  } catch (err) {
    const e = err instanceof ConnectError ? err : null;
    add({
      status: 'fail',
      name: what,
      detail: e ? `cannot connect to ${e.endpoint}: ${e.reason}` : errText(err),
      fix: `check ${origin(value, column)}, that the server accepts connections from this host (security group, pg_hba.conf), and the user and password`,
    });
    return null;
  }
}

async function checkSource(o: DoctorOptions, job: JobRow, tables: TableRow[], add: Add): Promise<void> {
  const s = await open('source', job, 'source_connection_string', o.env, add);
  if (!s) {
    add({ status: 'skip', name: 'source tables', detail: 'the source is not reachable' });
    return;
  }
  try {
    const who = (await s.client.query<{ user: string; version: string }>(`SELECT current_user AS "user", current_setting('server_version') AS "version"`)).rows[0]!;
    const user = q(who.user);
    add({ status: 'ok', name: 'source', detail: `${endpointOf(s.url)} reachable as "${who.user}", PostgreSQL ${who.version}` });
    try {
      const tz = await defaultTimeZone(s.url);
      add({ status: 'ok', name: 'source TimeZone', detail: `${tz} (timestamp and date updated keys are read as wall time in it, unless tables.updated_key_time_zone says otherwise)` });
    } catch (err) {
      add({ status: 'fail', name: 'source TimeZone', detail: errText(err) });
    }
    const missing: string[] = [];
    const denied: string[] = [];
    for (const t of tables) {
      const r = await s.client.query<{ exists: boolean; select: boolean | null }>(
        `SELECT to_regclass(format('%I.%I', $1::text, $2::text)) IS NOT NULL AS "exists",
                CASE WHEN to_regclass(format('%I.%I', $1::text, $2::text)) IS NOT NULL THEN has_table_privilege(format('%I.%I', $1::text, $2::text), 'SELECT') END AS "select"`,
        [t.sourceSchema, t.sourceName],
      );
      const row = r.rows[0]!;
      if (!row.exists) missing.push(`${t.sourceSchema}.${t.sourceName}`);
      else if (!row.select) denied.push(qualify(t.sourceSchema, t.sourceName));
    }
    if (missing.length + denied.length === 0) add({ status: 'ok', name: 'source SELECT', detail: `"${who.user}" may read ${tables.length === 1 ? 'the table' : `all ${tables.length} tables`}` });
    if (denied.length > 0) {
      add({ status: 'fail', name: 'source SELECT', detail: `"${who.user}" may not read ${list(denied)}`, fix: `${denied.slice(0, 3).map((t) => `GRANT SELECT ON ${t} TO ${user};`).join(' ')} (redshift-loader grants --job ${job.name} prints them all)` });
    }
    if (missing.length > 0) add({ status: 'fail', name: 'source tables', detail: `not found at the source: ${list(missing)}`, fix: 'correct source_schema/source_name in the tables row, or set tables.disabled' });
    const stats = (await s.client.query<{ ok: boolean }>(`SELECT pg_has_role(current_user, 'pg_read_all_stats', 'MEMBER') OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS "ok"`)).rows[0]!;
    const needs = tables.some((t) => t.copyMode === 'INSERT_AND_UPDATE');
    if (stats.ok) add({ status: 'ok', name: 'source pg_read_all_stats', detail: `"${who.user}" sees other sessions' open transactions (the late-commit guard)` });
    else if (!needs) add({ status: 'ok', name: 'source pg_read_all_stats', detail: `"${who.user}" is not a member; no INSERT_AND_UPDATE table needs it` });
    else {
      add({
        status: 'warn',
        name: 'source pg_read_all_stats',
        detail: `"${who.user}" cannot see other sessions' open transactions, so late commits are covered only by UPDATED_KEY_OVERLAP_SECONDS`,
        fix: `GRANT pg_read_all_stats TO ${user};`,
      });
    }
    const cdc = tables.filter((t) => t.copyMode === 'CDC');
    if (cdc.length > 0) await checkCdcSource(s.client, job, cdc.length, who.user, add);
  } finally {
    await s.client.end().catch(() => undefined);
  }
}

/** copy_mode CDC: the same check the first CDC run makes (wal_level, REPLICATION, a free slot and WAL sender), before it. */
async function checkCdcSource(src: pg.ClientBase, job: JobRow, count: number, user: string, add: Add): Promise<void> {
  const names = cdcNames(job.name);
  try {
    const slot = await inspectSlot(src, names.slot);
    await checkCdcPrerequisites(src, `job "${job.name}"`, slot === null);
    const state = slot
      ? `replication slot "${names.slot}" exists${slot.active ? ' (being read now)' : ''}, keeping ${Math.round(slot.retainedBytes / 1024 / 1024)} MiB of WAL`
      : `replication slot "${names.slot}" and publication "${names.publication}" will be created by the first sync`;
    add({ status: 'ok', name: 'source CDC', detail: `wal_level = logical, "${user}" may read the write-ahead log; ${state} (${count} CDC table(s))` });
  } catch (err) {
    if (err instanceof CdcSourceError) add({ status: 'fail', name: 'source CDC', detail: err.message });
    else add({ status: 'fail', name: 'source CDC', detail: errText(err) });
  }
}

async function checkRedshift(o: DoctorOptions, job: JobRow, tables: TableRow[], add: Add): Promise<pg.Client | null> {
  const r = await open('Redshift', job, 'destination_connection_string', o.env, add);
  if (!r) {
    add({ status: 'skip', name: 'Redshift privileges', detail: 'Redshift is not reachable' });
    return null;
  }
  const rs = r.client;
  try {
    const who = (await rs.query<{ user: string; database: string }>(dsql.REDSHIFT_SESSION_SQL)).rows[0]!;
    const user = q(who.user);
    const endpoint = endpointOf(r.url);
    const host = endpoint.split(':')[0]!;
    add({ status: 'ok', name: 'Redshift', detail: `${endpoint} reachable as "${who.user}"` });

    let slices: number | null = null;
    let slicesError = '';
    try {
      slices = Number((await rs.query<{ slices: string | number }>(dsql.SLICES_SQL)).rows[0]!.slices);
    } catch (err) {
      slicesError = errText(err);
    }
    const serverlessHost = /\.redshift-serverless\.amazonaws\.com$/i.test(host);
    const provisionedHost = /\.redshift\.amazonaws\.com$/i.test(host);
    const flavour = serverlessHost || (!provisionedHost && slices === null) ? 'Serverless' : 'provisioned';
    const why = serverlessHost || provisionedHost ? `by its endpoint ${host}` : slices !== null ? 'stv_slices is readable' : 'stv_slices is not readable';
    add({ status: 'ok', name: 'Redshift flavour', detail: `${flavour} (${why})${flavour === 'Serverless' ? ': SNAPSHOT isolation, loads listed in sys_load_history' : ''}` });
    if (slices !== null) {
      if (slices === o.env.REDSHIFT_SLICES) add({ status: 'ok', name: 'Redshift slices', detail: `${slices} (stv_slices), as REDSHIFT_SLICES says` });
      else add({ status: 'fail', name: 'Redshift slices', detail: `the cluster has ${slices} slices (stv_slices) but REDSHIFT_SLICES is ${o.env.REDSHIFT_SLICES}: batches are cut into a multiple of ${o.env.REDSHIFT_SLICES} files, so slices sit idle or wait`, fix: `set REDSHIFT_SLICES=${slices}` });
    } else {
      add({ status: 'skip', name: 'Redshift slices', detail: `slice count not visible (${slicesError}); REDSHIFT_SLICES=${o.env.REDSHIFT_SLICES} is used as it is` });
    }

    const temp = (await rs.query<{ temp: boolean }>(dsql.TEMP_PRIVILEGE_SQL)).rows[0]!;
    if (temp.temp) add({ status: 'ok', name: 'Redshift TEMP', detail: `"${who.user}" may create temporary tables (staging)` });
    else add({ status: 'fail', name: 'Redshift TEMP', detail: `"${who.user}" may not create temporary tables, which every incremental batch stages into`, fix: `GRANT TEMP ON DATABASE ${q(who.database)} TO ${user};` });

    const schemas = [...new Set(tables.length ? tables.map((t) => t.destinationSchema ?? job.destinationSchema) : [job.destinationSchema])].sort();
    for (const s of schemas) {
      const p = (await rs.query<{ exists: boolean; usage: boolean | null; create: boolean | null }>(dsql.SCHEMA_PRIVILEGES_SQL, [s])).rows[0]!;
      if (!p.exists) add({ status: 'fail', name: `Redshift schema "${s}"`, detail: 'does not exist', fix: `redshift-loader setup --job ${job.name} creates it (or run CREATE SCHEMA ${q(s)}; as an admin: redshift-loader grants --job ${job.name})` });
      else if (p.usage && p.create) add({ status: 'ok', name: `Redshift schema "${s}"`, detail: `"${who.user}" has USAGE and CREATE` });
      else add({ status: 'fail', name: `Redshift schema "${s}"`, detail: `"${who.user}" lacks ${[p.usage ? null : 'USAGE', p.create ? null : 'CREATE'].filter(Boolean).join(' and ')} (CREATE: setup's tables, FULL_DATA_SYNC's swap tables, redshift_loader_state)`, fix: `GRANT USAGE, CREATE ON SCHEMA ${q(s)} TO ${user};` });
    }

    const missing: string[] = [];
    const lacking: string[] = [];
    for (const t of tables) {
      const target = { schema: t.destinationSchema ?? job.destinationSchema, name: t.destinationName ?? t.sourceName };
      const exists = (await rs.query<{ exists: boolean }>(dsql.TABLE_EXISTS_SQL, [target.schema, target.name])).rows[0]!.exists;
      if (!exists) {
        missing.push(`${target.schema}.${target.name}`);
        continue;
      }
      const p = (await rs.query<Record<'select' | 'insert' | 'update' | 'delete', boolean>>(dsql.TABLE_PRIVILEGES_SQL, [target.schema, target.name])).rows[0]!;
      const no = (['select', 'insert', 'update', 'delete'] as const).filter((k) => !p[k]).map((k) => k.toUpperCase());
      if (no.length > 0) lacking.push(`${qualify(target.schema, target.name)} (${no.join(', ')})`);
    }
    if (tables.length > 0 && missing.length + lacking.length === 0) add({ status: 'ok', name: 'Redshift targets', detail: `${tables.length} target table(s) exist; SELECT, INSERT, UPDATE, DELETE on each` });
    if (missing.length > 0) add({ status: 'fail', name: 'Redshift targets', detail: `missing: ${list(missing)}`, fix: `redshift-loader setup --job ${job.name}` });
    if (lacking.length > 0) add({ status: 'fail', name: 'Redshift targets', detail: `"${who.user}" lacks ${list(lacking)}`, fix: `GRANT SELECT, INSERT, UPDATE, DELETE ON <table> TO ${user}; (redshift-loader grants --job ${job.name} prints them all)` });

    try {
      const cs = (await rs.query<{ enable_case_sensitive_identifier: string }>(dsql.CASE_SENSITIVITY_SQL)).rows[0]!;
      const on = /^(on|true)$/i.test(String(Object.values(cs)[0]));
      if (on) add({ status: 'ok', name: 'Redshift identifiers', detail: 'enable_case_sensitive_identifier is on in the loader\'s sessions (it sets it), so mixed-case names keep their case' });
      else add({ status: 'fail', name: 'Redshift identifiers', detail: 'SET enable_case_sensitive_identifier TO true did not take effect: mixed-case source names would fold to lower case', fix: `ALTER USER ${user} SET enable_case_sensitive_identifier TO true` });
    } catch (err) {
      add({ status: 'fail', name: 'Redshift identifiers', detail: `SHOW enable_case_sensitive_identifier failed: ${errText(err)}`, fix: 'the loader needs a cluster version with enable_case_sensitive_identifier' });
    }
    try {
      const c = String((await rs.query<{ collation: string }>(dsql.COLLATION_SQL)).rows[0]!.collation).trim().toLowerCase();
      if (c === 'case_insensitive') {
        add({ status: 'warn', name: 'Redshift collation', detail: 'the database is CASE_INSENSITIVE: text keys that differ only in case are one key in merges and delete detection (the batch\'s duplicate-key check fails on them)', fix: 'use a case-sensitive database for the targets, or keys without such values' });
      } else add({ status: 'ok', name: 'Redshift collation', detail: `${c} (text keys compare as the source compares them)` });
    } catch (err) {
      add({ status: 'skip', name: 'Redshift collation', detail: `db_collation() is not available (${errText(err)}); collation is case-sensitive before it existed` });
    }
    return rs;
  } catch (err) {
    await rs.end().catch(() => undefined);
    add({ status: 'fail', name: 'Redshift', detail: errText(err) });
    return null;
  }
}

/** Put, get, list and delete of a small object under the job's prefix: what the worker does with S3. */
async function checkS3(o: DoctorOptions, job: JobRow, add: Add): Promise<boolean> {
  let where: { bucket: string; prefix: string };
  try {
    where = jobS3(job, o.env);
  } catch (err) {
    add({ status: 'fail', name: 'S3', detail: errText(err), fix: 'set jobs.s3_bucket or env S3_BUCKET' });
    return false;
  }
  const s3 = o.s3 ?? createS3Client(o.env);
  const folder = `${where.prefix}/doctor-${randomBytes(4).toString('hex')}/`;
  const key = `${folder}probe.txt`;
  const text = `redshift-loader doctor probe for job "${job.name}"`;
  const arn = `arn:aws:s3:::${where.bucket}/${where.prefix}/*`;
  try {
    try {
      await putText(s3, where.bucket, key, text, 'text/plain');
      add({ status: 'ok', name: 'S3 put', detail: s3Url(where.bucket, key) });
    } catch (err) {
      add({ status: 'fail', name: 'S3 put', detail: errText(err), fix: `check the bucket name and AWS_REGION (${o.env.AWS_REGION}); the worker needs s3:PutObject on ${arn}` });
      return false;
    }
    let ok = true;
    try {
      const back = await getText(s3, where.bucket, key);
      if (back === text) add({ status: 'ok', name: 'S3 get', detail: `${s3Url(where.bucket, key)} read back as written` });
      else {
        ok = false;
        add({ status: 'fail', name: 'S3 get', detail: `${s3Url(where.bucket, key)} read back ${JSON.stringify(back.slice(0, 60))} instead of what was written`, fix: 'check for a proxy or an S3-compatible store that rewrites objects' });
      }
    } catch (err) {
      ok = false;
      add({ status: 'fail', name: 'S3 get', detail: errText(err), fix: `the worker needs s3:GetObject on ${arn}` });
    }
    try {
      const keys = await listKeys(s3, where.bucket, folder);
      if (keys.includes(key)) add({ status: 'ok', name: 'S3 list', detail: `${s3Url(where.bucket, folder)} lists the object` });
      else {
        ok = false;
        add({ status: 'fail', name: 'S3 list', detail: `${s3Url(where.bucket, folder)} does not list the object just written`, fix: 'check the prefix (jobs.s3_prefix) and the bucket policy' });
      }
    } catch (err) {
      ok = false;
      add({ status: 'fail', name: 'S3 list', detail: errText(err), fix: `the worker needs s3:ListBucket on arn:aws:s3:::${where.bucket} (for the prefix ${where.prefix}/)` });
    }
    try {
      await deletePrefix(s3, where.bucket, folder);
      const left = await listKeys(s3, where.bucket, folder);
      if (left.length === 0) add({ status: 'ok', name: 'S3 delete', detail: `${s3Url(where.bucket, key)} deleted` });
      else {
        ok = false;
        add({ status: 'fail', name: 'S3 delete', detail: `${s3Url(where.bucket, key)} is still listed after its delete`, fix: `the worker needs s3:DeleteObject on ${arn}` });
      }
    } catch (err) {
      ok = false;
      add({ status: 'fail', name: 'S3 delete', detail: errText(err), fix: `the worker needs s3:DeleteObject on ${arn}` });
    }
    return ok;
  } finally {
    if (!o.s3) s3.destroy();
  }
}

async function putBuffer(s3: S3Client, bucket: string, key: string, body: Buffer, contentEncoding: string): Promise<void> {
  try {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'text/csv', ContentEncoding: contentEncoding }));
  } catch (err) {
    throw new S3Error(`S3 could not write ${s3Url(bucket, key)}: ${errText(err)}`);
  }
}

/** A tiny COPY of the loader's own file format into a temp table, read back value by value. */
async function checkCopy(o: DoctorOptions, job: JobRow, rs: pg.Client, add: Add): Promise<void> {
  const name = 'COPY round trip';
  let auth: CopyAuth;
  try {
    auth = copyAuth(job, o.env);
  } catch (err) {
    add({ status: 'fail', name, detail: errText(err), fix: 'set jobs.iam_role or REDSHIFT_IAM_ROLE to a role attached to the cluster that may read the bucket' });
    return;
  }
  const { bucket, prefix } = jobS3(job, o.env);
  const compression = compressionFromEnv(o.env);
  const folder = `${prefix}/doctor-${randomBytes(4).toString('hex')}`;
  const fileKey = `${folder}/part-00001.csv${fileSuffix(compression)}`;
  const manifestKey = `${folder}/manifest.json`;
  const table = `rl_doctor_${randomBytes(4).toString('hex')}`;
  const s3 = o.s3 ?? createS3Client(o.env);
  const file = probeFile(compression);
  const what = compression.format === 'zstd' ? `a zstd file of ${file.frames} frames` : 'a gzip file';
  try {
    await putBuffer(s3, bucket, fileKey, file.body, compression.format);
    await putText(s3, bucket, manifestKey, JSON.stringify(manifestFor(bucket, [{ key: fileKey, bytes: file.body.length }])));
    await rs.query(dsql.probeTableSql(table));
    try {
      await rs.query(copyFromManifest({ table: { name: table, temp: true }, columns: ['id', 'v', 'ts'], manifestUrl: s3Url(bucket, manifestKey), auth, compression }));
    } catch (err) {
      const details = await describeLoadErrors(rs, s3Url(bucket, folder));
      add({
        status: 'fail',
        name,
        detail: `COPY of ${what} from ${s3Url(bucket, manifestKey)} failed: ${errText(err)}${details ? ` -- ${details}` : ''}`,
        fix: `the cluster's role (${'iamRole' in auth ? auth.iamRole : 'CREDENTIALS from AWS_ACCESS_KEY_ID'}) needs s3:GetObject and s3:ListBucket on the bucket${compression.format === 'zstd' ? '; if the cluster cannot read zstd, set COMPRESSION=gzip' : ''}`,
      });
      return;
    }
    const loaded = Number((await rs.query<{ n: string | number }>(lastCopyCount())).rows[0]!.n);
    const count = Number((await rs.query<{ n: string | number }>(dsql.probeCountSql(table))).rows[0]!.n);
    const problems: string[] = [];
    const notes: string[] = [];
    if (loaded !== PROBE_ROWS.length || count !== PROBE_ROWS.length) problems.push(`pg_last_copy_count() says ${loaded} and the table holds ${count} rows; the file holds ${PROBE_ROWS.length}`);
    for (const p of PROBE_ROWS) {
      const r = (await rs.query<{ v: string | null; v_null: boolean; ts_null: boolean; ts_text: string | null; ts_equal: boolean | null }>(dsql.probeRowSql(table), [p.id, p.ts])).rows[0];
      if (!r) {
        problems.push(`row ${p.id} (${p.what}) is missing`);
        continue;
      }
      if (p.v === CSV_NULL && r.v_null) notes.push(`the quoted text "${CSV_NULL}" arrives as NULL (README, Known limitations)`);
      else if (p.v === null ? !r.v_null : r.v_null || r.v !== p.v) {
        problems.push(`row ${p.id} (${p.what}): v arrived as ${r.v_null ? 'NULL' : JSON.stringify(r.v)} instead of ${p.v === null ? 'NULL' : JSON.stringify(p.v)}`);
      }
      if (p.ts === null ? !r.ts_null : r.ts_equal !== true) {
        problems.push(`row ${p.id} (${p.what}): ts arrived as ${r.ts_null ? 'NULL' : r.ts_text} instead of ${p.ts ?? 'NULL'}`);
      }
    }
    if (problems.length > 0) {
      add({ status: 'fail', name, detail: `${what} loaded, but ${problems.join('; ')}`, fix: 'the cluster reads the loader\'s CSV differently from the double: report it, and use COMPRESSION=gzip if only the compressed file is misread' });
    } else {
      add({
        status: notes.length > 0 ? 'warn' : 'ok',
        name,
        detail: `${PROBE_ROWS.length} rows from ${what} read back value by value: NULL, '' (not NULL), "${CSV_NULL}" ${notes.length ? 'as NULL' : 'as text'}, quotes, commas, a newline, \\N, UTF-8, timestamptz instants${notes.length ? `; ${notes.join('; ')}` : ''}`,
        ...(notes.length ? { fix: `no source text may equal "${CSV_NULL}" on this cluster` } : {}),
      });
    }
  } catch (err) {
    add({ status: 'fail', name, detail: errText(err), fix: err instanceof S3Error ? 'see the S3 checks above' : undefined });
  } finally {
    await rs.query(dropTempTable(table)).catch(() => undefined);
    await deletePrefix(s3, bucket, `${folder}/`).catch(() => undefined);
    if (!o.s3) s3.destroy();
  }
}

/** The last line: how many checks passed. */
export function doctorSummary(checks: Check[]): string {
  const n = (s: CheckStatus) => checks.filter((c) => c.status === s).length;
  const failed = n('fail');
  const parts = [`${n('ok') + n('warn')} passed`, failed ? `${failed} failed` : null, n('warn') ? `${n('warn')} with a warning` : null, n('skip') ? `${n('skip')} skipped` : null].filter(Boolean);
  return `doctor: ${failed ? 'NOT READY' : 'ready'}: ${parts.join(', ')}`;
}
