import type pg from 'pg';
import type { Logger } from '../log.js';
import { deleteKeys, type KeyColumn } from '../redshift/sql.js';
import { qualify, quoteIdent } from '../sql/quote.js';
import type { Fence } from './fence.js';
import type { TablePlan } from './plan.js';
import { canonicalColumn, keyTextSql as canonicalKeyTextSql, md5SliceSql, type Dialect, type KeyCanon } from '../schema/canonical.js';
import { readTargetColumns } from '../schema/drift.js';
import { parseTargetType } from '../schema/types.js';

/**
 * Hard-delete detection: finds target rows whose primary key no longer exists at the
 * source and deletes them. Only key columns ever cross the wire.
 *
 * Two strategies, chosen from the key's types:
 *
 * - `hash` (every key column an integer, text/varchar or uuid, whose text form is the same
 *   on both systems): the key space is cut into B buckets by a hash of the key text
 *   (B = rows / rangeSize). Each side computes, in one scan, per bucket: the row count and
 *   two sums of 28-bit slices of MD5(key text). The key text and the slices are verify's
 *   (src/verify/sql.ts, one implementation for both): the key columns' canonical texts
 *   joined by CHR(31), and hex digits turned into integers exactly on each side (a bit-string
 *   cast in Postgres, STRTOL in Redshift). Only buckets whose (count, sum, sum) differ are
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
 * a key that exists at the source is never deleted, even if rows arrive meanwhile. The
 * DELETE matches keys exactly: Redshift's `=` ignores trailing blanks, so VARCHAR keys are
 * also compared by byte length ('abc' never deletes 'abc ').
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

const CHUNK = 500;

function keyColsText(key: readonly string[]): string {
  return key.map((k, i) => `CAST(${quoteIdent(k)} AS VARCHAR(65535)) AS k${i}`).join(', ');
}

/** Per-bucket count and two hash sums of the key text, one row per non-empty bucket, in the side's own SQL. */
export function bucketSummarySql(d: Dialect, table: string, key: readonly KeyCanon[], buckets: number): string {
  if (!Number.isInteger(buckets) || buckets < 1) throw new Error('bucketSummarySql: buckets must be a positive integer');
  const md5 = d === 'postgres' ? 'md5' : 'MD5';
  return [
    `SELECT b, COUNT(*) AS n, SUM(h1) AS s1, SUM(h2) AS s2 FROM (`,
    `  SELECT MOD(${md5SliceSql(d, 'h', 1, 7)}, ${buckets}) AS b, ${md5SliceSql(d, 'h', 8, 7)} AS h1, ${md5SliceSql(d, 'h', 15, 7)} AS h2`,
    `  FROM (SELECT ${md5}(${canonicalKeyTextSql(d, key)}) AS h FROM ${table}) x`,
    `) y GROUP BY b`,
  ].join('\n');
}

/** Keys of the target rows in the given buckets (bucket numbers are integers we computed). */
export function bucketKeysSql(table: string, key: readonly KeyCanon[], buckets: number, bucketList: readonly number[]): string {
  if (bucketList.some((b) => !Number.isInteger(b))) throw new Error('bucket numbers must be integers');
  const ks = key.map((_, i) => `k${i}`).join(', ');
  const names = key.map((k) => k.canon.name);
  return `SELECT ${ks} FROM (SELECT ${keyColsText(names)}, MD5(${canonicalKeyTextSql('redshift', key)}) AS h FROM ${table}) x WHERE MOD(${md5SliceSql('redshift', 'h', 1, 7)}, ${buckets}) IN (${bucketList.join(', ')})`;
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

/** Deletes `count` keys given as parameters, matched exactly (character keys by value and byte length). */
export function deleteKeysSql(table: { schema: string; name: string }, key: readonly KeyColumn[], count: number): string {
  return deleteKeys(table, key, count);
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
  const targetCols = await readTargetColumns(a.redshift, plan.target);
  if (targetCols.length === 0) throw new Error(`${where}: target ${plan.target.schema}.${plan.target.name} does not exist`);
  const tgtTypes = key.map((k) => {
    const c = targetCols.find((x) => x.name === k);
    if (!c) throw new Error(`${where}: target ${plan.target.schema}.${plan.target.name} has no key column "${k}"`);
    return c.type;
  });
  const tgtFamilies = tgtTypes.map((t) => parseTargetType(t).family);
  const exact: KeyColumn[] = key.map((k, i) => ({ name: k, text: tgtFamilies[i] === 'varchar' || tgtFamilies[i] === 'char' }));
  const hashSafe = key.every((_, i) => {
    const s = srcTypes[i]!;
    const f = tgtFamilies[i]!;
    if (!HASH_SAFE_SOURCE.test(s)) return false;
    if (s === 'uuid') return f === 'char' || f === 'varchar';
    if (/^(smallint|integer|bigint)$/.test(s)) return f === 'smallint' || f === 'integer' || f === 'bigint' || f === 'varchar';
    return f === 'varchar';
  });
  // The key's canonical text per side (verify's), for the hash buckets.
  const canon: KeyCanon[] = [];
  if (hashSafe) {
    for (const [i, k] of key.entries()) {
      const c = canonicalColumn({ name: k, type: srcTypes[i]!, notNull: true }, tgtTypes[i]!);
      if (!c.ok) throw new Error(`${where}: key column "${k}": ${c.skipped.reason}`);
      canon.push({ canon: c.canon, targetFamily: tgtFamilies[i]!, sourceType: srcTypes[i]! });
    }
  }

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
        const r = await a.redshift.query(deleteKeysSql(plan.target, exact, part.length), part.flat());
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
    const summary = async (d: Dialect, db: pg.ClientBase, table: string) => {
      const r = await db.query<{ b: number | string; n: string; s1: string; s2: string }>(bucketSummarySql(d, table, canon, buckets));
      return new Map(r.rows.map((x) => [Number(x.b), `${x.n}/${x.s1}/${x.s2}`]));
    };
    const [s, t] = await Promise.all([summary('postgres', a.source, src), summary('redshift', a.redshift, tgt)]);
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
      const r = await reconcile(async () => asRows(await a.redshift.query<Record<string, string>>(bucketKeysSql(tgt, canon, buckets, g))));
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
