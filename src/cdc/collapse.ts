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

export type KeyedEntry = { op: 'U'; values: Value[] } | { op: 'D'; values: Value[] };

export class CollapseError extends Error {
  override name = 'CollapseError';
  constructor(
    readonly column: string,
    readonly key: string,
  ) {
    super(`an UPDATE changed the key of row ${key} and left the TOASTed column "${column}" unchanged, so its value is not in the change`);
  }
}

export class TableBatch {
  truncated = false;
  /** Changes taken (after skipping what was applied). */
  changes = 0;
  readonly keyed = new Map<string, KeyedEntry>();
  readonly images = new Map<string, { values: Array<string | null>; n: number }>();

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

  insert(values: Value[]): void {
    this.changes++;
    if (this.keyless) return this.image(values, +1);
    this.keyed.set(this.keyOf(values), { op: 'U', values });
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
    const prior = this.keyed.get(oldKey ?? newKey);
    const filled = values.slice();
    for (let i = 0; i < filled.length; i++) {
      if (filled[i] !== undefined) continue;
      if (prior?.op === 'U' && prior.values[i] !== undefined) filled[i] = prior.values[i];
      else if (oldKey !== null && oldKey !== newKey) throw new CollapseError(this.spec.columns[i]!, oldKey);
    }
    if (oldKey !== null && oldKey !== newKey) this.keyed.set(oldKey, { op: 'D', values: this.keyOnly(old!) });
    this.keyed.set(newKey, { op: 'U', values: filled });
  }

  delete(old: Value[]): void {
    this.changes++;
    if (this.keyless) return this.image(old, -1);
    this.keyed.set(this.keyOf(old), { op: 'D', values: this.keyOnly(old) });
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
    const row = values.map((v) => v ?? null);
    const k = JSON.stringify(row);
    const e = this.images.get(k) ?? { values: row, n: 0 };
    e.n += delta;
    if (e.n === 0) this.images.delete(k);
    else this.images.set(k, e);
  }

  /** Positions of columns some staged row leaves unchanged (the target's value is kept). */
  unchangedPositions(): number[] {
    const out = new Set<number>();
    for (const e of this.keyed.values()) if (e.op === 'U') e.values.forEach((v, i) => v === undefined && out.add(i));
    return [...out].sort((a, b) => a - b);
  }

  /**
   * The staged rows: the columns, then the marker columns (sql.cdcMarkerColumns). Keyed:
   * op and the unchanged positions (`,2,5,`). Keyless: an image with a net count of -k is
   * one row with -k; with +k, k rows with 1.
   */
  *rows(): Generator<Array<string | null>> {
    if (!this.keyless) {
      for (const e of this.keyed.values()) {
        const unchanged = e.op === 'U' ? e.values.flatMap((v, i) => (v === undefined ? [i] : [])) : [];
        yield [...e.values.map((v) => v ?? null), e.op, unchanged.length ? `,${unchanged.join(',')},` : null];
      }
      return;
    }
    let image = 0;
    for (const e of this.images.values()) {
      image++;
      if (e.n < 0) yield [...e.values, String(e.n), String(image)];
      else for (let i = 0; i < e.n; i++) yield [...e.values, '1', String(image)];
    }
  }

  /** Keys deleted (keyed) or row copies removed (no key) by this batch. */
  get deletes(): number {
    if (!this.keyless) return [...this.keyed.values()].filter((e) => e.op === 'D').length;
    return [...this.images.values()].reduce((n, e) => n + (e.n < 0 ? -e.n : 0), 0);
  }

  /** Rows `rows()` yields. */
  get rowCount(): number {
    if (!this.keyless) return this.keyed.size;
    let n = 0;
    for (const e of this.images.values()) n += e.n < 0 ? 1 : e.n;
    return n;
  }
}
