import { randomBytes } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import type pg from 'pg';
import type { Env } from '../config/env.js';
import { redactText, type Logger } from '../log.js';
import * as sql from '../redshift/sql.js';
import { deletePrefix, manifestFor, putText, s3Url } from '../s3/client.js';
import { compressionFromEnv } from '../extract/compress.js';
import { copyToStdoutSql } from '../redshift/csv.js';
import { extractFilesToS3, type FileExtract } from '../extract/extract.js';
import type { Fence, Step } from '../sync/fence.js';
import { checkKeys, checkLoadedRows, describeLoadErrors, runTransaction } from '../sync/load.js';
import type { JobRow, TableRow } from '../metadata/types.js';
import { dropLeftOut, matchRows, type CompareResult, type Conn, type LeafRow } from './compare.js';
import type { VerifyPlan } from './plan.js';
import type { RepairReport } from './report.js';
import { exactKeyColumns, leafSql, repairSelectSql, SET_REPAIR_KEYS_SQL } from './sql.js';
import { finishRepairRun, startRepairRun } from './store.js';

/**
 * `verify --repair`: the rows verify found different are re-synced through the loader's own
 * path, never touching the watermark:
 *
 * 1. extract, in one REPEATABLE READ snapshot, the source rows of every differing key (the
 *    keys of rows missing from the target or differing, and the keys found only in the target,
 *    which may exist at the source by now) with the loader's CSV dialect, in files of at most
 *    KEYS_PER_FILE keys, staged through S3 (zstd or gzip, as configured);
 * 2. load them into a temp table (COPY from the manifest), check the row count and the keys;
 * 3. one Redshift transaction: LOCK the target, delete its rows whose keys are staged and the
 *    rows of the keys found only in the target (matched exactly, trailing blanks included),
 *    insert the staged rows, COMMIT (a serializable conflict, error 1023, retries it);
 * 4. record it in sync_runs (kind 'repair', rows loaded and deleted, what was repaired);
 * 5. verify the ranges that held the differences again, in new snapshots.
 */
export interface RepairArgs {
  db: pg.ClientBase;
  job: JobRow;
  table: TableRow;
  plan: VerifyPlan;
  compared: CompareResult;
  /** Every synced source column (the target holds them all), in order: what a repair loads. */
  columns: string[];
  source: pg.Client;
  redshift: pg.Client;
  s3: S3Client;
  bucket: string;
  prefix: string;
  auth: sql.CopyAuth;
  env: Env;
  log: Logger;
  workerId?: string;
  signal?: AbortSignal;
  /** This repair's hold on the target (the table's claim token, written into Redshift): see src/sync/fence.ts. */
  fence: Fence;
  /** Opens the snapshots of the second verify (the same order as the first: target, then source). */
  begin: () => Promise<void>;
  end: () => Promise<void>;
}

export const KEYS_PER_FILE = 10_000;
const DELETE_CHUNK = 200;

export async function repairTable(a: RepairArgs): Promise<RepairReport> {
  const started = Date.now();
  const d = a.compared.differences;
  const base: RepairReport = { status: 'refused', runId: null, missing: 0, extra: 0, differ: 0, loaded: 0, deleted: 0, reverify: null, seconds: 0 };
  if (a.plan.strategy === 'whole' || !d) {
    const why =
      a.plan.strategy === 'whole'
        ? 'the rows cannot be named (no usable key), so they cannot be repaired one by one: ' +
          (a.plan.mode === 'FULL_DATA_SYNC' ? 'the next sync copies the whole table again' : 'resync the table (set max_primary_key and max_updated_key to NULL)')
        : 'more rows differ than verify lists: resync the table (set max_primary_key and max_updated_key to NULL)';
    return { ...base, error: why };
  }
  const total = d.missing.length + d.extra.length + d.changed.length;
  if (total === 0) return { ...base, status: 'repaired', reverify: { missing: 0, extra: 0, differ: 0, leftOut: 0 } };

  const key = a.plan.shape.key;
  const log = a.log;
  const srcKeys = [...d.missing.map((r) => r.n), ...d.changed.map((c) => c.source.n)];
  const tgtKeys = [...d.extra.map((r) => r.n), ...d.changed.map((c) => c.target.n)];
  // Every key to read at the source: its own texts, and the target's texts of keys found only there.
  const seen = new Set<string>();
  const extract: string[][] = [];
  for (const k of [...srcKeys, ...d.extra.map((r) => r.n)]) {
    const j = JSON.stringify(k);
    if (!seen.has(j)) {
      seen.add(j);
      extract.push(k);
    }
  }
  const repaired = {
    missing: d.missing.length,
    extra: d.extra.length,
    differ: d.changed.length,
    examples: {
      missing: d.missing.slice(0, 20).map((r) => r.n),
      extra: d.extra.slice(0, 20).map((r) => r.n),
      differ: d.changed.slice(0, 20).map((c) => ({ key: c.source.n, columns: c.columns })),
    },
  };
  const runId = await startRepairRun(a.db, { jobId: a.job.id, table: a.table, workerId: a.workerId });
  const rep: RepairReport = { ...base, status: 'failed', runId, missing: d.missing.length, extra: d.extra.length, differ: d.changed.length };
  const runPrefix = `${a.prefix}/${a.table.sourceSchema}.${a.table.sourceName}/repair-${runId}-${randomBytes(3).toString('hex')}`;
  const compression = compressionFromEnv(a.env);
  const staging = `rl_repair_${randomBytes(4).toString('hex')}`;
  let bytes = 0;
  let files = 0;
  try {
    log.info({ run: runId, keys: extract.length, missing: rep.missing, extra: rep.extra, differ: rep.differ }, 'verify repair: extracting the differing keys');
    const select = repairSelectSql(a.plan.source, a.columns, key);
    const fileSpecs: FileExtract[] = [];
    for (let off = 0; off < extract.length; off += KEYS_PER_FILE) {
      const json = JSON.stringify(extract.slice(off, off + KEYS_PER_FILE));
      fileSpecs.push({ copySql: copyToStdoutSql(select), prepare: async (c) => void (await c.query(SET_REPAIR_KEYS_SQL, [json])) });
    }
    await a.source.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    let extracted;
    try {
      extracted = await extractFilesToS3({ client: a.source, s3: a.s3, bucket: a.bucket, keyPrefix: runPrefix, compression, files: fileSpecs });
      await a.source.query('COMMIT');
    } catch (err) {
      await a.source.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    bytes = extracted.rawBytes;
    files = extracted.files.length;
    const manifestKey = `${runPrefix}/manifest.json`;
    await putText(a.s3, a.bucket, manifestKey, JSON.stringify(manifestFor(a.bucket, extracted.files), null, 1));
    const where = `${a.plan.where}: repair`;
    try {
      await a.redshift.query(sql.createStagingTable(staging, a.plan.target));
      if (extracted.rows > 0) {
        await a.redshift.query(sql.copyFromManifest({ table: { name: staging, temp: true }, columns: a.columns, manifestUrl: s3Url(a.bucket, manifestKey), auth: a.auth, compression }));
        await checkLoadedRows(a.redshift, extracted.rows, where);
        if (!a.table.allowDuplicateKeys) await checkKeys(a.redshift, { name: staging, temp: true }, exactKeyColumns(key), where);
      }
      const exact = exactKeyColumns(key);
      // One transaction, as a sync's merge: lock the state table and the target, check this
      // repair still owns the target (its claim's fencing token), delete the staged keys and
      // the keys found only in the target, insert the staged rows. Deleted rows are counted
      // per attempt (a 1023 retries the whole transaction).
      let deleted = 0;
      const counted = (text: string, params: unknown[] = []): Step => ({ sql: text, params, show: `${text};`, check: (r) => void (deleted += r.rowCount ?? 0) });
      const steps: Step[] = [
        'BEGIN',
        { sql: a.fence.lock(a.plan.target), params: [], show: `${a.fence.lock(a.plan.target)};`, check: () => void (deleted = 0) },
        a.fence.check(where),
        counted(sql.deleteMatchingKeys(a.plan.target, staging, exact)),
      ];
      for (let off = 0; off < tgtKeys.length; off += DELETE_CHUNK) {
        const part = tgtKeys.slice(off, off + DELETE_CHUNK);
        steps.push(counted(sql.deleteKeys(a.plan.target, exact, part.length), part.flat()));
      }
      steps.push(sql.insertAll(a.plan.target, staging, a.columns), 'COMMIT');
      await runTransaction(a.redshift, steps, { attempts: 5, baseDelayMs: 500, log, signal: a.signal });
      rep.deleted = deleted;
      rep.loaded = extracted.rows;
    } catch (err) {
      if (err instanceof Error && !/repair:/.test(err.message)) {
        const details = await describeLoadErrors(a.redshift, s3Url(a.bucket, runPrefix));
        if (details) err.message = `${err.message} -- ${details.text}`;
      }
      throw err;
    } finally {
      await a.redshift.query(sql.dropTempTable(staging)).catch(() => undefined);
    }
    log.info({ run: runId, loaded: rep.loaded, deleted: rep.deleted }, 'verify repair: merged the differing keys');

    // Verify the ranges that held the differences again.
    const leaves = a.compared.leaves;
    if (leaves) {
      await a.begin();
      try {
        const src: LeafRow[] = [];
        const tgt: LeafRow[] = [];
        for (const r of leaves.restrictions) {
          src.push(...(await readLeaf(a.source, leafSql('postgres', a.plan.source, a.plan.shape, leaves.cut, r, a.plan.live.sourceFilter), [], a.plan)));
          tgt.push(...(await readLeaf(a.redshift, leafSql('redshift', a.plan.target, a.plan.shape, leaves.cut, r, a.plan.live.targetFilter), a.plan.live.targetParams, a.plan)));
        }
        const again = matchRows(a.plan, src, tgt);
        await dropLeftOut(a.plan, a.source, a.redshift, again);
        rep.reverify = { missing: again.missing.length, extra: again.extra.length, differ: again.changed.length, leftOut: again.leftOut };
      } finally {
        await a.end();
      }
    }
    const clean = !rep.reverify || rep.reverify.missing + rep.reverify.extra + rep.reverify.differ === 0;
    rep.status = clean ? 'repaired' : 'differ';
    rep.seconds = (Date.now() - started) / 1000;
    await finishRepairRun(a.db, runId, { status: 'succeeded', loaded: rep.loaded, deleted: rep.deleted, bytes, files, repaired: { ...repaired, loaded: rep.loaded, deleted: rep.deleted, reverify: rep.reverify }, error: null });
    return rep;
  } catch (err) {
    const message = redactText(err instanceof Error ? err.message : String(err));
    const full = message.startsWith(a.plan.where) ? message : `${a.plan.where}: repair failed: ${message}`;
    log.error({ run: runId, err: full }, 'verify repair failed');
    await finishRepairRun(a.db, runId, { status: 'failed', loaded: 0, deleted: 0, bytes, files, repaired, error: full }).catch(() => undefined);
    return { ...rep, status: 'failed', error: full, seconds: (Date.now() - started) / 1000 };
  } finally {
    await deletePrefix(a.s3, a.bucket, `${runPrefix}/`).catch((e) => log.warn({ err: String(e) }, 'could not delete S3 files'));
  }
}

async function readLeaf(c: Conn, text: string, values: string[], plan: VerifyPlan): Promise<LeafRow[]> {
  const r = await c.query<Record<string, string>>(text, values);
  const nk = plan.shape.key.length;
  return r.rows.map((row) => ({
    bucket: row.b!,
    k: Array.from({ length: nk }, (_, j) => row[`k${j}`]!),
    n: Array.from({ length: nk }, (_, j) => row[`n${j}`]!),
    h: plan.shape.columns.map((_, i) => row[`h${i}`]!),
  }));
}
