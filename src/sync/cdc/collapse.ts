import { CSV_NULL } from '../../redshift/csv.js';

/**
 * One drained batch of one table, collapsed per key to the last operation. Pure.
 *
 * A value is text (the type's output, as COPY writes it), null, or undefined: a TOASTed
 * value the source left unchanged in an UPDATE (pgoutput's 'u'), which the target keeps.
 *
 * Keyed tables keep, per key, either the row to insert (`U`, replacing the target row) or
 * a delete (`D`). Tables without a key (REPLICA IDENTITY FULL) have only whole row images:
 * each keeps a net count (+1 per insert or new image, -1 per delete or old image), so
 * duplicate rows stay exact.
 */
export type Value = string | null | undefined;

export interface CollapseSpec {
  /** Staged columns, in order (the plan's). */
  columns: readonly string[];
  /** Positions of the key columns in `columns`; empty: no key (whole row images). */
  key: readonly number[];
}

/**
 * A collapsed row, kept compact: its values as one line of the loader's CSV (src/sync/
 * encoding.ts), and the positions of unchanged TOAST values (`,2,5,`, or null). A batch
 * holds up to CDC_BATCH_ROWS of these, so one string per row instead of one per value.
 */
export type KeyedEntry = { op: 'U' | 'D'; line: string; unchanged: string | null };

export class CollapseError extends Error {
  override name = 'CollapseError';
  constructor(
    readonly column: string,
    readonly key: string,
  ) {
    super(`an UPDATE changed the key of row ${key} and left the TOASTed column "${column}" unchanged, so its value is not in the change`);
  }
}

const field = (v: string | null | undefined): string => (v === null || v === undefined ? CSV_NULL : `"${v.replace(/"/g, '""')}"`);

/** Values as one CSV line (no newline): every value quoted, NULL (and unchanged) as the bare sentinel. */
export const csvFields = (values: readonly Value[]): string => values.map(field).join(',');

/** Reads back a line `csvFields` wrote (only this loader's own lines: quoted fields or the NULL sentinel). */
export function parseCsvFields(line: string): Array<string | null> {
  const out: Array<string | null> = [];
  let i = 0;
  for (;;) {
    if (line.startsWith(CSV_NULL, i)) {
      out.push(null);
      i += CSV_NULL.length;
    } else {
      let v = '';
      i++; // opening quote
      for (;;) {
        const q = line.indexOf('"', i);
        v += line.slice(i, q);
        if (line[q + 1] === '"') {
          v += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      out.push(v);
    }
    if (i >= line.length) return out;
    i++; // the comma
  }
}

export class TableBatch {
  truncated = false;
  /** Changes taken (after skipping what was applied). */
  changes = 0;
  readonly keyed = new Map<string, KeyedEntry>();
  /** No key: each row image (its CSV line) with its net count. */
  readonly images = new Map<string, number>();

  constructor(readonly spec: CollapseSpec) {}

  get keyless(): boolean {
    return this.spec.key.length === 0;
  }

  /** Nothing to apply. */
  get empty(): boolean {
    return !this.truncated && this.keyed.size === 0 && this.images.size === 0;
  }

  private keyOf(values: readonly Value[]): string {
    return JSON.stringify(this.spec.key.map((i) => values[i] ?? null));
  }

  private upsert(key: string, values: readonly Value[]): void {
    const unchanged = values.flatMap((v, i) => (v === undefined ? [i] : []));
    this.keyed.set(key, { op: 'U', line: csvFields(values), unchanged: unchanged.length ? `,${unchanged.join(',')},` : null });
  }

  insert(values: Value[]): void {
    this.changes++;
    if (this.keyless) return this.image(values, +1);
    this.upsert(this.keyOf(values), values);
  }

  /** `old`: the old key or row (null when the key did not change and the identity is not FULL). */
  update(old: Value[] | null, values: Value[]): void {
    this.changes++;
    if (this.keyless) {
      if (old) this.image(old, -1);
      return this.image(values, +1);
    }
    const oldKey = old ? this.keyOf(old) : null;
    const newKey = this.keyOf(values);
    let filled: Value[] = values;
    if (values.includes(undefined)) {
      // A TOASTed value the change does not carry: an earlier change of this batch may have it.
      const prior = this.keyed.get(oldKey ?? newKey);
      const priorValues = prior?.op === 'U' ? parseCsvFields(prior.line) : null;
      filled = values.map((v, i) => {
        if (v !== undefined) return v;
        if (priorValues && !prior!.unchanged?.includes(`,${i},`)) return priorValues[i];
        if (oldKey !== null && oldKey !== newKey) throw new CollapseError(this.spec.columns[i]!, oldKey);
        return undefined;
      });
    }
    if (oldKey !== null && oldKey !== newKey) this.keyed.set(oldKey, { op: 'D', line: csvFields(this.keyOnly(old!)), unchanged: null });
    this.upsert(newKey, filled);
  }

  delete(old: Value[]): void {
    this.changes++;
    if (this.keyless) return this.image(old, -1);
    this.keyed.set(this.keyOf(old), { op: 'D', line: csvFields(this.keyOnly(old)), unchanged: null });
  }

  truncate(): void {
    this.changes++;
    this.truncated = true;
    this.keyed.clear();
    this.images.clear();
  }

  private keyOnly(values: readonly Value[]): Value[] {
    return this.spec.columns.map((_, i) => (this.spec.key.includes(i) ? (values[i] ?? null) : null));
  }

  private image(values: readonly Value[], delta: number): void {
    const k = csvFields(values);
    const n = (this.images.get(k) ?? 0) + delta;
    if (n === 0) this.images.delete(k);
    else this.images.set(k, n);
  }

  /** Positions of columns some staged row leaves unchanged (the target's value is kept). */
  unchangedPositions(): number[] {
    const out = new Set<number>();
    for (const e of this.keyed.values()) if (e.unchanged) for (const i of e.unchanged.split(',')) if (i) out.add(Number(i));
    return [...out].sort((a, b) => a - b);
  }

  /**
   * The staged rows as CSV lines: the columns, then the marker columns
   * (sql.cdcMarkerColumns). Keyed: op and the unchanged positions. Keyless: an image with a
   * net count of -k is one row with -k; with +k, k rows with 1.
   */
  *lines(): Generator<string> {
    if (!this.keyless) {
      for (const e of this.keyed.values()) yield `${e.line},${field(e.op)},${field(e.unchanged)}\n`;
      return;
    }
    let image = 0;
    for (const [line, n] of this.images) {
      image++;
      if (n < 0) yield `${line},${field(String(n))},${field(String(image))}\n`;
      else for (let i = 0; i < n; i++) yield `${line},${field('1')},${field(String(image))}\n`;
    }
  }

  /** Keys deleted (keyed) or row copies removed (no key) by this batch. */
  get deletes(): number {
    if (!this.keyless) return [...this.keyed.values()].filter((e) => e.op === 'D').length;
    return [...this.images.values()].reduce((n, c) => n + (c < 0 ? -c : 0), 0);
  }

  /** Rows `lines()` yields. */
  get rowCount(): number {
    if (!this.keyless) return this.keyed.size;
    let n = 0;
    for (const c of this.images.values()) n += c < 0 ? 1 : c;
    return n;
  }
}
