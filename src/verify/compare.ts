import type pg from 'pg';
import { qualify } from '../sql/quote.js';
import type { Logger } from '../log.js';
import type { VerifyPlan } from './plan.js';
import {
  excludedCountSql,
  keySpanSql,
  leafSql,
  ROW_ESTIMATE_SQL,
  sourceKeysLeftOutSql,
  summarySql,
  targetKeysLeftOutSql,
  MAX_BIGINT,
  MIN_BIGINT,
  type Cut,
  type Restriction,
} from './sql.js';

/**
 * The comparison of one table: summaries per key range on both sides, narrowing the ranges
 * whose summaries differ until they are small, then the rows of those ranges (key texts and
 * a hash per column) matched by key in memory. The source session must be inside its
 * REPEATABLE READ snapshot with the plan's settings set, the target session inside its
 * transaction (see run.ts).
 */
export type Conn = pg.ClientBase;

export interface LeafRow {
  bucket: string;
  /** Canonical key texts (what rows are matched by). */
  k: string[];
  /** Native key texts (what lookups cast back to the column's type). */
  n: string[];
  /** Hash per compared column. */
  h: string[];
}

export interface ChangedRow {
  source: LeafRow;
  target: LeafRow;
  columns: string[];
}

export interface Differences {
  missing: LeafRow[];
  extra: LeafRow[];
  changed: ChangedRow[];
  /** Of `extra`: rows whose key the source holds once, duplicated in the target. */
  duplicates: number;
  /** Keys found on one side only whose row the other side leaves out (changed after the watermark). */
  leftOut: number;
}

export interface CompareResult {
  /** Rows compared on each side (after the live rule). */
  sourceRows: number;
  targetRows: number;
  /** Rows the live rule left out on each side (null: no rule). */
  leftOutRows: { source: number; target: number } | null;
  ranges: number;
  differingRanges: number;
  levels: number;
  /** Rows whose key texts and column hashes crossed the wire (both sides). */
  rowsTransferred: number;
  /** `whole` strategy: counts and hashes equal. */
  wholeMatch?: boolean;
  differences: Differences | null;
  /** The ranges whose rows were compared (to verify them again after a repair). */
  leaves: { cut: Cut; restrictions: Restriction[] } | null;
  /** More rows differ than verify lists: only range-level counts are known. */
  tooMany?: { sourceRows: number; targetRows: number };
}

export interface CompareOptions {
  log?: Logger;
  /** Rows per range at the first level (default 1024). */
  rangeRows?: number;
  /** At most this many rows of differing ranges are fetched (default 1,000,000); beyond it verify reports counts only. */
  maxLeafRows?: number;
  /**
   * Differing ranges holding at most this many rows in all are read row by row; larger ones
   * are split first (default 4,096 for key ranges, whose splitting reads an index range, and
   * 50,000 for hash ranges, whose splitting reads the whole key column again).
   */
  leafBudget?: number;
}

type Summary = Map<string, { n: number; s: string }>;

const LEAF_SMALL = 64;
const RANGE_LEAF_BUDGET = 4096;
const HASH_LEAF_BUDGET = 50_000;
const CHUNK = 500;

function log2Ceil(x: bigint): number {
  let n = 0;
  while (1n << BigInt(n) < x) n++;
  return n;
}

function mergeIntervals(buckets: bigint[], width: bigint): Array<[bigint, bigint]> {
  const sorted = [...buckets].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const out: Array<[bigint, bigint]> = [];
  for (const b of sorted) {
    const lo = b * width;
    const hi = lo + width - 1n;
    const last = out[out.length - 1];
    if (last && last[1] + 1n === lo) last[1] = hi;
    else out.push([lo, hi]);
  }
  return out;
}

/** Restrictions covering the given buckets of a cut, in chunks of at most CHUNK entries. */
export function restrictionsFor(cut: Cut, buckets: string[]): Restriction[] {
  if (cut.kind === 'whole') return [{ kind: 'all' }];
  const out: Restriction[] = [];
  if (cut.kind === 'range') {
    const sorted = buckets.map((b) => BigInt(b)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (let i = 0; i < sorted.length; i += CHUNK) {
      const list = sorted.slice(i, i + CHUNK);
      out.push({ kind: 'intervals', intervals: mergeIntervals(list, cut.width), buckets: { width: cut.width, list } });
    }
  } else {
    const sorted = [...buckets].sort();
    for (let i = 0; i < sorted.length; i += CHUNK) out.push({ kind: 'prefixes', digits: cut.digits, prefixes: sorted.slice(i, i + CHUNK) });
  }
  return out;
}

/**
 * Range summaries of both sides. With several sessions per side (`pairs`), the restrictions are
 * spread over them and run at once; summaries of one range read in parts add up.
 */
async function summaries(plan: VerifyPlan, pairs: Array<{ source: Conn; target: Conn }>, cut: Cut, restrictions: Restriction[]): Promise<[Summary, Summary]> {
  const add = (m: Summary, b: string, n: number, sum: string) => {
    const x = m.get(b);
    m.set(b, x ? { n: x.n + n, s: (BigInt(x.s) + BigInt(sum)).toString() } : { n, s: sum });
  };
  const read = async (side: 'source' | 'target', m: Summary, conn: Conn, rs: Restriction[]) => {
    for (const r of rs) {
      const sql = side === 'source'
        ? summarySql('postgres', plan.source, plan.shape, cut, r, plan.live.sourceFilter)
        : summarySql('redshift', plan.target, plan.shape, cut, r, plan.live.targetFilter);
      const res = await conn.query<{ b: string; n: string | number; s: string | null }>(sql, side === 'target' ? plan.live.targetParams : []);
      for (const row of res.rows) add(m, String(row.b), Number(row.n), String(row.s ?? '0'));
    }
  };
  const s: Summary = new Map();
  const t: Summary = new Map();
  const per = pairs.map(() => [] as Restriction[]);
  restrictions.forEach((r, i) => per[i % pairs.length]!.push(r));
  await Promise.all(pairs.flatMap((p, i) => (per[i]!.length ? [read('source', s, p.source, per[i]!), read('target', t, p.target, per[i]!)] : [])));
  return [s, t];
}

/** The first level's key space cut into `parts` intervals of whole ranges, the outer ones open-ended (rows beyond the source's span). */
export function splitSpan(lo: bigint, hi: bigint, width: bigint, parts: number): Restriction[] {
  if (parts <= 1 || hi <= lo) return [{ kind: 'all' }];
  const first = lo >= 0n ? lo / width : -1n - (-1n - lo) / width;
  const last = hi >= 0n ? hi / width : -1n - (-1n - hi) / width;
  const buckets = last - first + 1n;
  const n = BigInt(Math.min(parts, Number(buckets)));
  if (n <= 1n) return [{ kind: 'all' }];
  const out: Restriction[] = [];
  for (let i = 0n; i < n; i++) {
    const b0 = first + (buckets * i) / n;
    const b1 = first + (buckets * (i + 1n)) / n - 1n;
    const from = i === 0n ? MIN_BIGINT : b0 * width;
    const to = i === n - 1n ? MAX_BIGINT : (b1 + 1n) * width - 1n;
    out.push({ kind: 'intervals', intervals: [[from, to]] });
  }
  return out;
}

function differing(a: Summary, b: Summary): string[] {
  const out: string[] = [];
  for (const k of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(k);
    const y = b.get(k);
    if (!x || !y || x.n !== y.n || x.s !== y.s) out.push(k);
  }
  return out;
}

async function leaves(plan: VerifyPlan, src: Conn, tgt: Conn, cut: Cut, restrictions: Restriction[]): Promise<[LeafRow[], LeafRow[]]> {
  const nk = plan.shape.key.length;
  const nc = plan.shape.columns.length;
  const read = async (conn: Conn, side: 'source' | 'target'): Promise<LeafRow[]> => {
    const out: LeafRow[] = [];
    for (const r of restrictions) {
      const sql = side === 'source'
        ? leafSql('postgres', plan.source, plan.shape, cut, r, plan.live.sourceFilter)
        : leafSql('redshift', plan.target, plan.shape, cut, r, plan.live.targetFilter);
      const res = await conn.query<Record<string, string>>(sql, side === 'target' ? plan.live.targetParams : []);
      for (const row of res.rows) {
        out.push({
          bucket: row.b!,
          k: Array.from({ length: nk }, (_, j) => row[`k${j}`]!),
          n: Array.from({ length: nk }, (_, j) => row[`n${j}`]!),
          h: Array.from({ length: nc }, (_, i) => row[`h${i}`]!),
        });
      }
    }
    return out;
  };
  return Promise.all([read(src, 'source'), read(tgt, 'target')]);
}

/** Compares key tuples: integers numerically, anything else by code units. */
export function compareKeys(a: string[], b: string[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? '';
    const y = b[i] ?? '';
    if (x === y) continue;
    if (/^-?\d+$/.test(x) && /^-?\d+$/.test(y)) return BigInt(x) < BigInt(y) ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

/** Matches the rows of both sides by key (exact texts: 'abc' and 'abc ' are different keys). */
export function matchRows(plan: Pick<VerifyPlan, 'shape'>, source: LeafRow[], target: LeafRow[]): Differences {
  const group = (rows: LeafRow[]) => {
    const m = new Map<string, LeafRow[]>();
    for (const r of rows) {
      const k = JSON.stringify(r.k);
      const list = m.get(k);
      if (list) list.push(r);
      else m.set(k, [r]);
    }
    return m;
  };
  const s = group(source);
  const t = group(target);
  const d: Differences = { missing: [], extra: [], changed: [], duplicates: 0, leftOut: 0 };
  for (const key of new Set([...s.keys(), ...t.keys()])) {
    const srows = [...(s.get(key) ?? [])];
    const trows = [...(t.get(key) ?? [])];
    // Identical rows pair off first (a key repeated on both sides matches row by row).
    for (let i = srows.length - 1; i >= 0; i--) {
      const j = trows.findIndex((r) => r.h.every((h, x) => h === srows[i]!.h[x]));
      if (j >= 0) {
        srows.splice(i, 1);
        trows.splice(j, 1);
      }
    }
    const pairs = Math.min(srows.length, trows.length);
    for (let i = 0; i < pairs; i++) {
      const a = srows[i]!;
      const b = trows[i]!;
      d.changed.push({ source: a, target: b, columns: plan.shape.columns.filter((_, x) => a.h[x] !== b.h[x]).map((c) => c.name) });
    }
    for (const r of srows.slice(pairs)) d.missing.push(r);
    const extra = trows.slice(pairs);
    for (const r of extra) d.extra.push(r);
    if (extra.length > 0 && (s.get(key)?.length ?? 0) > 0) d.duplicates += extra.length;
  }
  const byKey = (x: LeafRow, y: LeafRow) => compareKeys(x.k, y.k);
  d.missing.sort(byKey);
  d.extra.sort(byKey);
  d.changed.sort((x, y) => byKey(x.source, y.source));
  return d;
}

/**
 * Keys seen on one side only whose row the other side leaves out (it changed after the
 * watermark there) are not differences: they are dropped and counted as left out.
 */
export async function dropLeftOut(plan: VerifyPlan, src: Conn, tgt: Conn, d: Differences): Promise<void> {
  const live = plan.live;
  const key = plan.shape.key;
  if (key.length === 0) return;
  // Rows only in the target: does the source hold the key with a change after the watermark
  // (or, INSERT_ONLY, does the key come after the watermark in the source's order)?
  const sourceChecks: string[] = [];
  if (live.sourceFilter) sourceChecks.push(sourceKeysLeftOutSql(plan.source, key, live.sourceFilter));
  if (live.keysAfterWatermark) sourceChecks.push(live.keysAfterWatermark.sql);
  if (sourceChecks.length && d.extra.length) {
    const out = new Set<number>();
    for (let off = 0; off < d.extra.length; off += 5000) {
      const part = d.extra.slice(off, off + 5000);
      const arrays = key.map((_, i) => part.map((r) => r.n[i]!));
      for (const sql of sourceChecks) {
        const r = await src.query<{ i: number }>(sql, arrays);
        for (const row of r.rows) out.add(off + row.i - 1);
      }
    }
    d.extra = d.extra.filter((_, i) => !out.has(i));
    d.leftOut += out.size;
  }
  // Rows only in the source: does the target hold the key with a change after the watermark?
  if (live.targetFilter && d.missing.length) {
    const out = new Set<number>();
    const per = Math.max(1, Math.floor(200 / key.length));
    for (let off = 0; off < d.missing.length; off += per) {
      const part = d.missing.slice(off, off + per);
      const sql = targetKeysLeftOutSql(plan.target, key, part.length, live.targetFilter, live.targetParams.length + 1);
      const r = await tgt.query<{ i: number | string }>(sql, [...live.targetParams, ...part.flatMap((x) => x.n)]);
      for (const row of r.rows) out.add(off + Number(row.i) - 1);
    }
    d.missing = d.missing.filter((_, i) => !out.has(i));
    d.leftOut += out.size;
  }
}

export async function compareTable(plan: VerifyPlan, src: Conn, tgt: Conn, o: CompareOptions = {}, more: Array<{ source: Conn; target: Conn }> = []): Promise<CompareResult> {
  const log = o.log;
  const rangeRows = o.rangeRows ?? 1024;
  const maxLeafRows = o.maxLeafRows ?? 1_000_000;
  // Rows left out by the live rule, counted (the target first: its transaction's snapshot starts here).
  let leftOutRows: CompareResult['leftOutRows'] = null;
  if (plan.live.targetFilter || plan.live.sourceFilter) {
    const t = plan.live.targetFilter ? Number((await tgt.query<{ n: string }>(excludedCountSql('redshift', plan.target, plan.live.targetFilter), plan.live.targetParams)).rows[0]!.n) : 0;
    const s = plan.live.sourceFilter ? Number((await src.query<{ n: string }>(excludedCountSql('postgres', plan.source, plan.live.sourceFilter))).rows[0]!.n) : 0;
    leftOutRows = { source: s, target: t };
  }

  let cut: Cut;
  let firstLevel: Restriction[] = [{ kind: 'all' }];
  if (plan.strategy === 'whole') cut = { kind: 'whole' };
  else {
    const est = Number((await src.query<{ n: string }>(ROW_ESTIMATE_SQL, [plan.source.schema, plan.source.name])).rows[0]?.n ?? -1);
    let rows = est;
    if (!(rows > 0)) rows = Number((await src.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${qualify(plan.source.schema, plan.source.name)}`)).rows[0]!.n);
    rows = Math.max(rows, 1);
    if (plan.strategy === 'range') {
      const span = (await src.query<{ lo: string | null; hi: string | null }>(keySpanSql(plan.source, plan.shape.key[0]!.canon.name, plan.live.sourceFilter))).rows[0]!;
      const lo = span.lo === null ? 0n : BigInt(span.lo);
      const hi = span.hi === null ? 0n : BigInt(span.hi);
      const perRow = (hi - lo + 1n) * BigInt(rangeRows) / BigInt(Math.ceil(rows));
      cut = { kind: 'range', width: 1n << BigInt(Math.min(62, log2Ceil(perRow < 1n ? 1n : perRow))) };
      // The first level reads every row: with more sessions, each reads its part of the key span.
      firstLevel = splitSpan(lo, hi, cut.width, 1 + more.length);
    } else {
      const digits = Math.max(0, Math.min(8, Math.ceil(Math.log(rows / rangeRows) / Math.log(16))));
      cut = { kind: 'hash', digits };
    }
  }

  const t0 = Date.now();
  const main = { source: src, target: tgt };
  let [s, t] = await summaries(plan, [main, ...more], cut, firstLevel);
  const result: CompareResult = {
    sourceRows: [...s.values()].reduce((a, x) => a + x.n, 0),
    targetRows: [...t.values()].reduce((a, x) => a + x.n, 0),
    leftOutRows,
    ranges: new Set([...s.keys(), ...t.keys()]).size,
    differingRanges: 0,
    levels: 1,
    rowsTransferred: 0,
    differences: null,
    leaves: null,
  };
  let diff = differing(s, t);
  result.differingRanges = diff.length;
  log?.info({ level: 1, cut: describeCut(cut), sessions: firstLevel.length, ranges: result.ranges, differing: diff.length, seconds: (Date.now() - t0) / 1000 }, 'verify: compared range summaries');
  if (cut.kind === 'whole') {
    result.wholeMatch = diff.length === 0;
    return result;
  }
  const all: Differences = { missing: [], extra: [], changed: [], duplicates: 0, leftOut: 0 };
  const leafRestrictions: Restriction[] = [];
  let leafCut: Cut = cut;
  while (diff.length > 0) {
    const size = (b: string) => Math.max(s.get(b)?.n ?? 0, t.get(b)?.n ?? 0);
    const total = diff.reduce((a, b) => a + size(b), 0);
    if (total > maxLeafRows) {
      result.tooMany = { sourceRows: diff.reduce((a, b) => a + (s.get(b)?.n ?? 0), 0), targetRows: diff.reduce((a, b) => a + (t.get(b)?.n ?? 0), 0) };
      log?.warn({ rows: total, max: maxLeafRows }, 'verify: too many rows differ to list them; reporting range counts only');
      break;
    }
    const finest = cut.kind === 'range' ? cut.width === 1n : cut.kind === 'hash' && cut.digits >= 24;
    const budget: number = o.leafBudget ?? (cut.kind === 'range' ? RANGE_LEAF_BUDGET : HASH_LEAF_BUDGET);
    const leafNow = finest || total <= budget ? diff : cut.kind === 'range' ? diff.filter((b) => size(b) <= LEAF_SMALL) : [];
    const split = diff.filter((b) => !leafNow.includes(b));
    if (leafNow.length > 0) {
      const rs = restrictionsFor(cut, leafNow);
      const [ls, lt] = await leaves(plan, src, tgt, cut, rs);
      result.rowsTransferred += ls.length + lt.length;
      const d = matchRows(plan, ls, lt);
      all.missing.push(...d.missing);
      all.extra.push(...d.extra);
      all.changed.push(...d.changed);
      all.duplicates += d.duplicates;
      leafRestrictions.push(...rs);
      leafCut = cut;
      log?.info({ level: result.levels, ranges: leafNow.length, rows: ls.length + lt.length }, 'verify: compared the rows of differing ranges');
    }
    if (split.length === 0) break;
    const next: Cut = cut.kind === 'range' ? { kind: 'range', width: cut.width > 16n ? cut.width / 16n : 1n } : { kind: 'hash', digits: (cut as { digits: number }).digits + (total > 16 * budget ? 2 : 1) };
    const t1 = Date.now();
    [s, t] = await summaries(plan, [main], next, restrictionsFor(cut, split));
    cut = next;
    diff = differing(s, t);
    result.levels++;
    log?.info({ level: result.levels, cut: describeCut(cut), ranges: new Set([...s.keys(), ...t.keys()]).size, differing: diff.length, seconds: (Date.now() - t1) / 1000 }, 'verify: narrowed differing ranges');
  }
  if (result.tooMany) return result;
  all.missing.sort((x, y) => compareKeys(x.k, y.k));
  all.extra.sort((x, y) => compareKeys(x.k, y.k));
  all.changed.sort((x, y) => compareKeys(x.source.k, y.source.k));
  await dropLeftOut(plan, src, tgt, all);
  result.differences = all;
  result.leaves = leafRestrictions.length ? { cut: leafCut, restrictions: leafRestrictions } : null;
  return result;
}

export function describeCut(cut: Cut): string {
  return cut.kind === 'range' ? `key ranges of ${cut.width}` : cut.kind === 'hash' ? `${cut.digits} hex digit(s) of MD5(key)` : 'whole table';
}
