import type pg from 'pg';
import type { Logger } from '../log.js';
import * as sql from '../redshift/sql.js';
import { qualify } from '../sql/quote.js';
import { readGrants } from '../redshift/privileges.js';
import type { TableRef, CopyAuth } from '../redshift/sql.js';
import { mapType, parseTargetType, type RedshiftType } from '../schema/types.js';
import type { Compression } from '../extract/compress.js';
import { type Fence, type Step } from './fence.js';
import type { TablePlan } from './plan.js';

/** The Redshift side of a batch: COPY into staging and merge, or fill and swap. */
export class LoadError extends Error {
  override name = 'LoadError';
}

/** The primary key's columns, each marked when it holds character data (see sql.KeyColumn). */
export function keyColumns(plan: Pick<TablePlan, 'primaryKey' | 'columns'>): sql.KeyColumn[] {
  return plan.primaryKey.map((name) => {
    const c = plan.columns.find((x) => x.name === name);
    const family = c ? mapType(c.type).family : 'varchar';
    return { name, text: family === 'varchar' || family === 'char' };
  });
}

/**
 * One incremental batch on Redshift (also what --dry-run prints), in three parts:
 * - `stage`: a temp table shaped like the target and the COPY into it, each statement its
 *   own transaction (a temp table lives as long as the session);
 * - then the checks (`checkLoadedRows`, `checkKeys`), outside any transaction;
 * - `merge`: one transaction that locks the state table and the target first (AWS's advice
 *   against error 1023: the snapshot starts at the transaction's first statement), checks
 *   that this run still owns the target (its fencing token, see fence.ts), deletes the
 *   target rows whose keys are staged (with an updated key, only those not newer than the
 *   staged row) and inserts the staged rows (with an updated key, not over a newer row).
 *   A 1023 or a deadlock retries only this part.
 * `cleanup` drops the temp table (also after a failure).
 *
 * The staged keys are unique (`checkKeys` refuses duplicates) unless the table allows
 * duplicate keys, so the insert takes every staged row.
 */
export interface IncrementalLoad {
  stage: string[];
  merge: Step[];
  cleanup: string[];
}

export function incrementalStatements(plan: TablePlan, staging: string, manifestUrl: string, auth: CopyAuth, compression: Compression, fence: Fence, where: string): IncrementalLoad {
  const cols = plan.columns.map((c) => c.name);
  const key = keyColumns(plan);
  return {
    stage: [sql.createStagingTable(staging, plan.target), sql.copyFromManifest({ table: { name: staging, temp: true }, columns: cols, manifestUrl, auth, compression })],
    merge: [
      'BEGIN',
      fence.lock(plan.target),
      fence.check(where),
      sql.deleteMatchingKeys(plan.target, staging, key, plan.updatedKey),
      sql.insertStaged(plan.target, staging, cols, key, plan.updatedKey),
      'COMMIT',
    ],
    cleanup: [sql.dropTempTable(staging)],
  };
}

/**
 * Refuses a loaded batch whose key is not unique or holds a NULL, naming the keys: merging
 * it would keep one row per key and drop the others without a word.
 */
export async function checkKeys(rs: pg.ClientBase, table: sql.TableOrTemp, keyCols: readonly sql.KeyColumn[], where: string): Promise<void> {
  const r = await rs.query<Record<string, string | null>>({ text: sql.keyProblems(table, keyCols), types: { getTypeParser: () => (v: string) => v } } as pg.QueryConfig);
  if (r.rowCount === 0) return;
  const key = keyCols.map((k) => k.name);
  const show = (row: Record<string, string | null>) => `(${key.map((k) => (row[k] === null ? 'NULL' : JSON.stringify(row[k]))).join(', ')})`;
  const nulls = r.rows.filter((row) => key.some((k) => row[k] === null));
  const dups = r.rows.filter((row) => !key.some((k) => row[k] === null));
  const parts: string[] = [];
  if (dups.length > 0) {
    parts.push(
      `primary_key (${key.join(', ')}) is not unique at the source: ${dups.map((d) => `key ${show(d)} occurs ${d.n} times`).join(', ')} in this batch. ` +
        'Keeping one row per key would drop the others; fix primary_key in the tables row, or set allow_duplicate_keys = true to keep every row (INSERT_ONLY, FULL_DATA_SYNC)',
    );
  }
  if (nulls.length > 0) {
    const cols = key.filter((k) => nulls.some((row) => row[k] === null));
    parts.push(`primary_key column(s) ${cols.map((c) => `"${c}"`).join(', ')} hold NULL in ${nulls.reduce((s, x) => s + Number(x.n), 0)} row(s) of this batch (${nulls.map(show).join(', ')}); a NULL key can never be matched, so every later read would add the row again. Fix the rows at the source (and make the columns NOT NULL) or choose another primary_key`);
  }
  throw new LoadError(`${where}: ${parts.join('; ')}. Nothing of it was applied; the watermark is kept.`);
}

/**
 * FULL_DATA_SYNC's swap and old tables are per run (`<target>_rl_swap_<run id>`), so two
 * runs never share one; a crashed run's are dropped by the next run of the table
 * (`leftoverTablesSql`). The base is cut so that the name fits Redshift's 127 bytes.
 */
const RUN_SUFFIX_BYTES = 20;
function runTableBase(name: string, kind: '_rl_swap_' | '_rl_old_'): string {
  let base = name;
  while (Buffer.byteLength(base + kind) + RUN_SUFFIX_BYTES > 127) base = base.slice(0, -1);
  return base + kind;
}
export const swapRef = (t: TableRef, runId: string): TableRef => ({ schema: t.schema, name: runTableBase(t.name, '_rl_swap_') + runId });
export const oldRef = (t: TableRef, runId: string): TableRef => ({ schema: t.schema, name: runTableBase(t.name, '_rl_old_') + runId });

/** Swap and old tables of any run of this target ($1 schema; LIKE patterns $2, $3; also the names used before runs had their own). */
export function leftoverTablesSql(t: TableRef): { text: string; values: string[] } {
  const like = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);
  return {
    text: `SELECT tablename AS name FROM pg_tables WHERE schemaname = $1 AND (tablename LIKE $2 OR tablename LIKE $3 OR tablename IN ($4, $5)) ORDER BY 1`,
    values: [t.schema, `${like(runTableBase(t.name, '_rl_swap_'))}%`, `${like(runTableBase(t.name, '_rl_old_'))}%`, `${t.name}_rl_swap`, `${t.name}_rl_old`],
  };
}

export function fullSyncBatchStatement(plan: TablePlan, runId: string, manifestUrl: string, auth: CopyAuth, compression: Compression): string {
  return sql.copyFromManifest({ table: swapRef(plan.target, runId), columns: plan.columns.map((c) => c.name), manifestUrl, auth, compression });
}

/**
 * After a COPY: did Redshift load exactly the rows the files hold? Anything else (a file
 * read only in part, a row split in two) fails the batch, which then keeps its watermark.
 */
export async function checkLoadedRows(rs: pg.ClientBase, expected: number, where: string): Promise<void> {
  const r = await rs.query<{ n: string | number }>(sql.lastCopyCount());
  const loaded = Number(r.rows[0]?.n ?? -1);
  if (loaded !== expected) {
    throw new LoadError(
      `${where}: Redshift loaded ${loaded} rows but the batch's files hold ${expected}; the batch is not applied (if the cluster misreads the files, try COMPRESSION=gzip)`,
    );
  }
}

/**
 * A conflict that retrying the transaction can resolve: Redshift's serializable isolation
 * violation (error 1023, SQLSTATE 40001) or a deadlock (40P01).
 */
export function isRetryableConflict(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === '40001' || e?.code === '40P01' || /\b1023\b|serializable isolation violation|deadlock detected/i.test(e?.message ?? '');
}

export interface LoadErrorRow {
  filename: string;
  line_number: number;
  colname: string;
  type: string;
  raw_field_value: string;
  err_code: number;
  err_reason: string;
}

/** Reads stl_load_errors for this batch's files and describes them in one message. */
export async function describeLoadErrors(rs: pg.ClientBase, filePrefixUrl: string): Promise<{ text: string; columns: string[] } | null> {
  // stl_load_errors on a provisioned cluster; Redshift Serverless shows its loads only in
  // sys_load_error_detail (and a provisioned cluster has both).
  for (const q of [sql.recentLoadErrors(), sql.recentLoadErrorsSys()]) {
    try {
      const r = await rs.query<LoadErrorRow>(q, [`${filePrefixUrl}%`]);
      if (r.rowCount === 0) continue;
      const columns = [...new Set(r.rows.map((e) => e.colname))];
      const text = r.rows
        .slice(0, 3)
        .map(
          (e) =>
            `file ${e.filename} line ${e.line_number} column "${e.colname}" (${e.type})${e.raw_field_value === null ? '' : ` value ${JSON.stringify(e.raw_field_value)}`}: ${e.err_reason} (error ${e.err_code})`,
        )
        .join('; ');
      return { text, columns };
    } catch {
      // the view does not exist here, or the user may not read it: try the next
    }
  }
  return null;
}

async function runStep(rs: pg.ClientBase, step: Step): Promise<void> {
  if (typeof step === 'string') await rs.query(step);
  else step.check(await rs.query(step.sql, step.params));
}

export interface RetryOptions {
  attempts: number;
  baseDelayMs: number;
  log: Logger;
  signal?: AbortSignal;
}

/**
 * Runs a transaction (steps from BEGIN to COMMIT). On failure it rolls back; a
 * serializable isolation conflict or a deadlock is retried with backoff, any other error
 * (a lost fence included) is thrown.
 */
export async function runTransaction(rs: pg.ClientBase, steps: Step[], retry: RetryOptions, beforeCommit?: () => void | Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      for (const s of steps.slice(0, -1)) await runStep(rs, s);
      await beforeCommit?.();
      await runStep(rs, steps[steps.length - 1]!);
      return;
    } catch (err) {
      await rs.query('ROLLBACK').catch(() => undefined);
      if (!isRetryableConflict(err) || attempt >= retry.attempts || retry.signal?.aborted) throw err;
      const delay = retry.baseDelayMs * 2 ** (attempt - 1) * (0.5 + Math.random());
      retry.log.warn({ attempt, delayMs: Math.round(delay), err: (err as Error).message }, 'serializable isolation conflict (1023) or deadlock; retrying the transaction');
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/**
 * Checks the target exists, has every source column and compares its key columns
 * case-sensitively; returns the target's column types.
 */
export async function checkTarget(rs: pg.ClientBase, plan: TablePlan, where: string): Promise<Map<string, RedshiftType>> {
  const r = await rs.query<{ name: string; type: string }>(sql.targetColumns(), [plan.target.schema, plan.target.name]);
  if (r.rowCount === 0) {
    throw new LoadError(`${where}: target table ${plan.target.schema}.${plan.target.name} does not exist in Redshift (create it, or run setup)`);
  }
  const have = new Set(r.rows.map((c) => c.name));
  const missing = plan.columns.map((c) => c.name).filter((c) => !have.has(c));
  if (missing.length > 0) {
    throw new LoadError(
      `${where}: target table ${plan.target.schema}.${plan.target.name} lacks source column(s) ${missing.map((m) => `"${m}"`).join(', ')}; add them (ALTER TABLE ... ADD COLUMN) or exclude them`,
    );
  }
  await checkKeyCollation(rs, plan, where);
  return new Map(r.rows.map((c) => [c.name, parseTargetType(c.type)]));
}

/**
 * A key column with a case-insensitive collation (a CASE_INSENSITIVE database, or the
 * column's own COLLATE) makes 'Abc' and 'abc' one key in the merge, the key check and
 * delete detection: rows would replace or delete each other. Refused.
 */
async function checkKeyCollation(rs: pg.ClientBase, plan: TablePlan, where: string): Promise<void> {
  if (plan.primaryKey.length === 0) return;
  let rows: Array<{ name: string; collation: string | null }>;
  try {
    rows = (await rs.query<{ name: string; collation: string | null }>(sql.targetCollations(), [plan.target.schema, plan.target.name])).rows;
  } catch (e) {
    if ((e as { code?: string }).code === '42P01') return; // no svv_columns: no collations
    throw e;
  }
  const ci = rows.filter((c) => plan.primaryKey.includes(c.name) && (c.collation ?? '').trim().toLowerCase() === 'case_insensitive').map((c) => c.name);
  if (ci.length > 0) {
    const t = qualify(plan.target.schema, plan.target.name);
    throw new LoadError(
      `${where}: key column(s) ${ci.map((c) => `"${c}"`).join(', ')} of ${plan.target.schema}.${plan.target.name} compare case-insensitively in Redshift (collation case_insensitive), so keys such as 'Abc' and 'abc' would replace or delete each other's rows; ` +
        `recreate the target with those columns declared COLLATE CASE_SENSITIVE (e.g. drop ${t} and run setup, which does so), or sync into a case-sensitive database`,
    );
  }
}

/** FULL_DATA_SYNC: this run's swap table, shaped like the target. */
export function prepareSwapStatements(plan: TablePlan, runId: string): string[] {
  const swap = swapRef(plan.target, runId);
  return [sql.dropTable(swap), sql.createTableLike(swap, plan.target)];
}

/**
 * FULL_DATA_SYNC's last step, one transaction: the swap table takes the target's name,
 * owner and grants; readers see the old table until COMMIT and the new one after. It
 * locks the state table and the target first and checks this run still owns the target.
 */
export async function swapStatements(rs: pg.ClientBase, plan: TablePlan, runId: string, fence: Fence, where: string): Promise<Step[]> {
  const target = plan.target;
  const swap = swapRef(target, runId);
  const old = oldRef(target, runId);
  const r = await rs.query<{ owner: string; acl: string | null }>(sql.tableOwnerAndAcl(), [target.schema, target.name]);
  const owner = r.rows[0]?.owner;
  const grants = owner ? (await readGrants(rs, target, owner, r.rows[0]!.acl)).grants : [];
  const statements: Step[] = ['BEGIN', fence.lock(target), fence.check(where), sql.dropTable(old), sql.renameTable(target, old.name), sql.renameTable(swap, target.name)];
  if (owner) statements.push(sql.setOwner(target, owner));
  for (const g of grants) statements.push(sql.grant(target, g));
  statements.push(sql.dropTable(old), 'COMMIT');
  return statements;
}
