import type pg from 'pg';
import type { Logger } from '../log.js';
import { qualify, quoteIdent } from '../sql/quote.js';
import type { KeyColumn } from '../redshift/sql.js';
import type { Fence } from '../sync/fence.js';
import { keyColumns } from '../sync/load.js';
import type { TablePlan } from '../sync/plan.js';
import { readTargetColumns } from './drift.js';
import { parseTargetType } from './types.js';

/**
 * Hard-delete detection: finds target rows whose primary key no longer exists at the
 * source and deletes them. Only key columns ever cross the wire.
 *
 * Two strategies, chosen from the key's types:
 *
 * - `hash` (every key column an integer, text/varchar or uuid, whose text form is the same
 *   on both systems): the key space is cut into B buckets by a hash of the key text
 *   (B = rows / rangeSize). Each side computes, in one scan, per bucket: the row count and
 *   two sums of 28-bit slices of MD5(key text). The SQL is plain MD5 / SUBSTRING / POSITION
 *   / MOD arithmetic that PostgreSQL and Redshift evaluate identically (no STRTOL, no
 *   bit casts, no string_agg ordering). Only buckets whose (count, sum, sum) differ are
 *   checked key by key. Buckets need no ordering, so collations cannot make the two sides
 *   disagree about which keys a range holds.
 * - `keyset` (any other key, e.g. timestamps or numerics whose text forms differ between
 *   the systems): the target's keys are walked in ranges of rangeSize by keyset, in the
 *   target's own order, and every range is checked key by key.
 *
 * The key-by-key check of a range runs in one Redshift transaction: LOCK the target, read
 * the range's keys (as the target's text), ask the source which of them no longer exist
 * (an anti-join on unnest() of the keys cast to the source's types, so no text forms are
 * compared), DELETE those, COMMIT. The target keys are read before the source is asked, so
 * a key that exists at the source is never deleted, even if rows arrive meanwhile.
 */
export interface DetectDeletesArgs {
  source: pg.ClientBase;
  redshift: pg.ClientBase;
  plan: Pick<TablePlan, 'source' | 'target' | 'columns' | 'primaryKey'>;
  log: Logger;
  /** Keys per range (default 10000). */
  rangeSize?: number;
  /** The run's ownership of the target (src/sync/fence.ts): each deleting transaction checks it. */
  fence?: Fence;
  /** For messages: job and table. */
  where?: string;
}

export interface DetectDeletesResult {
  deleted: number;
  mode: 'hash' | 'keyset';
  ranges: number;
  rangesChecked: number;
}

const HEX = "'0123456789abcdef'";
const CHUNK = 500;

/** Integer value of `len` hex digits of `h` from 1-based `start`: portable SQL. */
export function hexSliceSql(h: string, start: number, len: number): string {
  const terms: string[] = [];
  for (let i = 0; i < len; i++) terms.push(`(POSITION(SUBSTRING(${h}, ${start + i}, 1) IN ${HEX}) - 1) * ${16 ** (len - 1 - i)}`);
  return `(${terms.join(' + ')})`;
}

/** The key as one text: each column cast to VARCHAR(65535), joined by CHR(31). */
export function keyTextSql(key: readonly string[], alias?: string): string {
  const p = alias ? `${alias}.` : '';
  return key.map((k) => `CAST(${p}${quoteIdent(k)} AS VARCHAR(65535))`).join(' || CHR(31) || ');
}

function keyColsText(key: readonly string[]): string {
  return key.map((k, i) => `CAST(${quoteIdent(k)} AS VARCHAR(65535)) AS k${i}`).join(', ');
}

/** Per-bucket count and two hash sums, one row per non-empty bucket. */
export function bucketSummarySql(table: string, key: readonly string[], buckets: number): string {
  return [
    `SELECT b, COUNT(*) AS n, SUM(h1) AS s1, SUM(h2) AS s2 FROM (`,
    `  SELECT MOD(${hexSliceSql('h', 1, 7)}, ${buckets}) AS b, ${hexSliceSql('h', 8, 7)} AS h1, ${hexSliceSql('h', 15, 7)} AS h2`,
    `  FROM (SELECT MD5(${keyTextSql(key)}) AS h FROM ${table}) x`,
    `) y GROUP BY b`,
  ].join('\n');
}

/** Keys of the target rows in the given buckets (bucket numbers are integers we computed). */
export function bucketKeysSql(table: string, key: readonly string[], buckets: number, bucketList: readonly number[]): string {
  if (bucketList.some((b) => !Number.isInteger(b))) throw new Error('bucket numbers must be integers');
  const ks = key.map((_, i) => `k${i}`).join(', ');
  return `SELECT ${ks} FROM (SELECT ${keyColsText(key)}, MD5(${keyTextSql(key)}) AS h FROM ${table}) x WHERE MOD(${hexSliceSql('h', 1, 7)}, ${buckets}) IN (${bucketList.join(', ')})`;
}

/** `(a > $1) OR (a = $1 AND b > $2) ...`: a row comparison Redshift also understands. */
export function afterKeySql(key: readonly string[], firstParam = 1): string {
  const ors: string[] = [];
  for (let i = 0; i < key.length; i++) {
    const eqs = key.slice(0, i).map((k, j) => `${quoteIdent(k)} = $${firstParam + j}`);
    ors.push(`(${[...eqs, `${quoteIdent(key[i]!)} > $${firstParam + i}`].join(' AND ')})`);
  }
  return ors.join(' OR ');
}

export function keysetRangeSql(table: string, key: readonly string[], after: boolean, limit: number): string {
  const order = key.map(quoteIdent).join(', ');
  return `SELECT ${keyColsText(key)} FROM ${table}${after ? ` WHERE ${afterKeySql(key)}` : ''} ORDER BY ${order} LIMIT ${limit}`;
}

/** Which of the given keys (text, one array per key column) are missing at the source. */
export function missingAtSourceSql(table: string, key: readonly string[], types: readonly string[]): string {
  const arrays = key.map((_, i) => `$${i + 1}::text[]`).join(', ');
  const names = key.map((_, i) => `k${i}`).join(', ');
  const cond = key.map((k, i) => `s.${quoteIdent(k)} = t.k${i}::${types[i]}`).join(' AND ');
  return `SELECT t.i::int AS i FROM unnest(${arrays}) WITH ORDINALITY AS t(${names}, i) WHERE NOT EXISTS (SELECT 1 FROM ${table} s WHERE ${cond}) ORDER BY t.i`;
}

/**
 * Deletes the given keys. A character key column also matches on its byte length:
 * Redshift's `=` ignores trailing blanks, so deleting `'a'` would delete `'a '` too.
 */
export function deleteKeysSql(table: string, key: readonly (string | KeyColumn)[], count: number): string {
  const cols = key.map((k) => (typeof k === 'string' ? { name: k, text: false } : k));
  if (cols.length === 1 && !cols[0]!.text) {
    return `DELETE FROM ${table} WHERE ${quoteIdent(cols[0]!.name)} IN (${Array.from({ length: count }, (_, i) => `$${i + 1}`).join(', ')})`;
  }
  const eq = (k: KeyColumn, p: string) => (k.text ? `${quoteIdent(k.name)} = ${p} AND OCTET_LENGTH(${quoteIdent(k.name)}) = OCTET_LENGTH(${p})` : `${quoteIdent(k.name)} = ${p}`);
  const tuples: string[] = [];
  for (let r = 0; r < count; r++) tuples.push(`(${cols.map((k, i) => eq(k, `$${r * cols.length + i + 1}`)).join(' AND ')})`);
  return `DELETE FROM ${table} WHERE ${tuples.join(' OR ')}`;
}

const HASH_SAFE_SOURCE = /^(smallint|integer|bigint|text|character varying(\(\d+\))?|uuid)$/;

export async function detectDeletes(a: DetectDeletesArgs): Promise<DetectDeletesResult> {
  const { plan, log } = a;
  const key = plan.primaryKey;
  const where = `table ${plan.source.schema}.${plan.source.name}`;
  if (key.length === 0) throw new Error(`${where}: delete detection needs a primary_key`);
  const rangeSize = Math.max(1, Math.floor(a.rangeSize ?? 10_000));
  const src = qualify(plan.source.schema, plan.source.name);
  const tgt = qualify(plan.target.schema, plan.target.name);
  const srcTypes = key.map((k) => {
    const c = plan.columns.find((x) => x.name === k);
    if (!c) throw new Error(`${where}: primary_key column "${k}" is not a source column`);
    return c.type;
  });
  const keyCols = keyColumns(plan);
  const targetCols = await readTargetColumns(a.redshift, plan.target);
  if (targetCols.length === 0) throw new Error(`${where}: target ${plan.target.schema}.${plan.target.name} does not exist`);
  const tgtFamilies = key.map((k) => {
    const c = targetCols.find((x) => x.name === k);
    if (!c) throw new Error(`${where}: target ${plan.target.schema}.${plan.target.name} has no key column "${k}"`);
    return parseTargetType(c.type).family;
  });
  const hashSafe = key.every((_, i) => {
    const s = srcTypes[i]!;
    const f = tgtFamilies[i]!;
    if (!HASH_SAFE_SOURCE.test(s)) return false;
    if (s === 'uuid') return f === 'char' || f === 'varchar';
    if (/^(smallint|integer|bigint)$/.test(s)) return f === 'smallint' || f === 'integer' || f === 'bigint' || f === 'varchar';
    return f === 'varchar';
  });

  /** Checks one range's target keys against the source and deletes the missing ones. */
  const reconcile = async (readKeys: () => Promise<string[][]>): Promise<{ keys: number; deleted: number }> => {
    await a.redshift.query('BEGIN');
    try {
      if (a.fence) {
        await a.redshift.query(a.fence.lock(plan.target));
        const check = a.fence.check(a.where ?? where);
        if (typeof check !== 'string') check.check(await a.redshift.query(check.sql, check.params));
      } else {
        await a.redshift.query(`LOCK ${tgt}`);
      }
      const keys = await readKeys();
      const missing: string[][] = [];
      for (let off = 0; off < keys.length; off += 5000) {
        const part = keys.slice(off, off + 5000);
        const arrays = key.map((_, i) => part.map((row) => row[i]!));
        const r = await a.source.query<{ i: number }>(missingAtSourceSql(src, key, srcTypes), arrays);
        for (const row of r.rows) missing.push(part[row.i - 1]!);
      }
      let deleted = 0;
      for (let off = 0; off < missing.length; off += CHUNK) {
        const part = missing.slice(off, off + CHUNK);
        const r = await a.redshift.query(deleteKeysSql(tgt, keyCols, part.length), part.flat());
        deleted += r.rowCount ?? 0;
      }
      await a.redshift.query('COMMIT');
      return { keys: keys.length, deleted };
    } catch (err) {
      await a.redshift.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  };
  const asRows = (r: pg.QueryResult<Record<string, string>>) => r.rows.map((row) => key.map((_, i) => row[`k${i}`]!));

  let deleted = 0;
  if (hashSafe) {
    const counts = await Promise.all([
      a.source.query<{ n: string }>(`SELECT COUNT(*) AS n FROM ${src}`),
      a.redshift.query<{ n: string }>(`SELECT COUNT(*) AS n FROM ${tgt}`),
    ]);
    const rows = Math.max(Number(counts[0].rows[0]!.n), Number(counts[1].rows[0]!.n));
    const buckets = Math.max(1, Math.ceil(rows / rangeSize));
    const summary = async (db: pg.ClientBase, table: string) => {
      const r = await db.query<{ b: number | string; n: string; s1: string; s2: string }>(bucketSummarySql(table, key, buckets));
      return new Map(r.rows.map((x) => [Number(x.b), `${x.n}/${x.s1}/${x.s2}`]));
    };
    const [s, t] = await Promise.all([summary(a.source, src), summary(a.redshift, tgt)]);
    // Only buckets that hold target rows can hold rows to delete.
    const differing = [...t.keys()].filter((b) => s.get(b) !== t.get(b)).sort((x, y) => x - y);
    log.info({ table: `${plan.source.schema}.${plan.source.name}`, buckets, differing: differing.length }, 'delete detection: compared key buckets');
    // Differing buckets are checked in groups of about rangeSize * 5 target keys, one
    // transaction (and one scan of the target) per group.
    const groups: number[][] = [];
    let group: number[] = [];
    let groupRows = 0;
    for (const b of differing) {
      const n = Number(t.get(b)!.split('/')[0]);
      if (group.length > 0 && groupRows + n > rangeSize * 5) {
        groups.push(group);
        group = [];
        groupRows = 0;
      }
      group.push(b);
      groupRows += n;
    }
    if (group.length > 0) groups.push(group);
    for (const g of groups) {
      const r = await reconcile(async () => asRows(await a.redshift.query<Record<string, string>>(bucketKeysSql(tgt, key, buckets, g))));
      deleted += r.deleted;
      if (r.deleted > 0) log.info({ buckets: g.length, keys: r.keys, deleted: r.deleted }, 'delete detection: deleted target rows gone at the source');
    }
    return { deleted, mode: 'hash', ranges: buckets, rangesChecked: differing.length };
  }

  let last: string[] | null = null;
  let ranges = 0;
  for (;;) {
    let batch: string[][] = [];
    const r = await reconcile(async () => {
      batch = asRows(await a.redshift.query<Record<string, string>>(keysetRangeSql(tgt, key, last !== null, rangeSize), last ?? []));
      return batch;
    });
    if (batch.length === 0) break;
    ranges++;
    deleted += r.deleted;
    if (r.deleted > 0) log.info({ range: ranges, keys: r.keys, deleted: r.deleted }, 'delete detection: deleted target rows gone at the source');
    if (batch.length < rangeSize) break;
    last = batch[batch.length - 1]!;
  }
  return { deleted, mode: 'keyset', ranges, rangesChecked: ranges };
}
