import type pg from 'pg';
import type { Watermark } from '../metadata/types.js';
import {
  CLOSE_BATCH_KEYS_SQL,
  SET_WATERMARK_SQL,
  batchKeysFromRows,
  batchKeysSql,
  batchKeysStepSql,
  declareBatchKeysSql,
  fullBatchFileEnds,
  keyTuple,
  planBatch,
  remainderFileCount,
  rowsPerFile,
  tupleToWatermark,
  type TablePlan,
} from './plan.js';

export interface KeyRange {
  /** Rows after this watermark... */
  lo: Watermark;
  /** ...up to and including this key tuple (text values, keyset order). */
  hi: string[];
}

export interface ScannedBatch {
  /** Rows in the batch (0: nothing after the watermark). */
  rows: number;
  /** The batch's last key tuple; empty when rows is 0. */
  last: string[];
}

const asText = { getTypeParser: () => (v: string) => v };

/**
 * Finds a keyed batch's size, last key and file boundaries with a cursor over its keys
 * (`declareBatchKeysSql`), handing each file's key range out as soon as it is known, so the
 * other extract sessions start copying while this session is still scanning.
 *
 * Files are cut for a full batch: one cursor step per file (`fullBatchFileEnds`; MOVE skips
 * keys on the server). A file is handed out once the next step shows that the batch goes
 * on past it. When the cursor runs out first (a short batch, usually the last), the
 * rows not yet handed out are cut again (`batchKeysSql` with their own file size) so the
 * batch still has a multiple of the slice count of files.
 *
 * Runs inside the batch's REPEATABLE READ transaction, after SET_WATERMARK_SQL, on the
 * session that then extracts too. Boundaries are key values, so together the files hold
 * exactly the rows after `from` up to the last key, whatever the sessions that copy them.
 */
export class BatchKeyScan {
  private readonly ends: number[];
  private step = 0;
  /** Rows of keyset order passed so far. */
  private passed = 0;
  /** Keys at the ends found so far, not yet handed out (at most one after `first`). */
  private found: string[][] = [];
  /** Where the next file starts. */
  private lo: Watermark;
  private handedOut = 0;
  private lastHandedOut: string[] | null = null;
  private result: ScannedBatch | null = null;

  constructor(
    private readonly client: pg.ClientBase,
    private readonly plan: TablePlan,
    from: Watermark,
    private readonly slices: number,
    /** SEEN_SETTING's value for this batch (`seenSettings`). */
    private readonly seen = '[]',
  ) {
    this.ends = fullBatchFileEnds(plan.rowLimit, plan.chunkSize, slices);
    this.lo = from;
  }

  /** Files of a full batch: the most this batch can have. */
  get maxFiles(): number {
    return this.ends.length;
  }

  /** Opens the cursor and takes the first step: false when the batch is empty. */
  async first(): Promise<boolean> {
    await this.client.query(declareBatchKeysSql(this.plan, this.lo));
    await this.advance();
    if (this.result?.rows === 0) await this.client.query(CLOSE_BATCH_KEYS_SQL);
    return this.result?.rows !== 0;
  }

  /** The rest of the scan: `onFile` gets each file's key range, in order. */
  async rest(onFile: (range: KeyRange) => void): Promise<ScannedBatch> {
    const handOut = (hi: string[]) => {
      onFile({ lo: this.lo, hi });
      this.handedOut++;
      this.lo = tupleToWatermark(this.plan, hi);
      this.lastHandedOut = hi;
    };
    while (!this.result) {
      await this.advance();
      // The batch goes on past the older key: its file is complete.
      if (this.found.length > 1) handOut(this.found.shift()!);
    }
    await this.client.query(CLOSE_BATCH_KEYS_SQL);
    if (this.result.rows === this.plan.rowLimit) {
      // A full batch: the last step found the row_limit-th key.
      for (const hi of this.found.splice(0)) handOut(hi);
      return this.result;
    }
    // A short batch: every row after `from` is in it. Cut the rows after the last file
    // handed out with their own file size (the batch's watermark setting moves there).
    const remaining = this.result.rows - (this.handedOut === 0 ? 0 : this.endOf(this.handedOut - 1));
    const files = remainderFileCount(this.result.rows, this.handedOut, this.plan.chunkSize, this.slices);
    await this.client.query(SET_WATERMARK_SQL, [planBatch(this.plan, this.lo).settings, this.seen]);
    const keys = batchKeysFromRows(this.plan, (await this.client.query(batchKeysSql(this.plan, this.lo), [rowsPerFile(remaining, files)])).rows);
    // Fewer rows than counted only when the key is not unique: the rest were duplicates of
    // the previous file's last key, which that file holds (its range ends at the key value).
    if (keys.rows > remaining || (keys.rows === 0 && this.lastHandedOut === null)) {
      throw new Error(`batch keys: ${keys.rows} rows after the last full file, expected ${remaining} or (with a non-unique key) fewer but some (the snapshot should not change)`);
    }
    for (const hi of [...keys.splits, keys.last].filter((k) => k.length > 0)) handOut(hi);
    const last = keys.rows > 0 ? keys.last : this.lastHandedOut!;
    this.result = { rows: this.result.rows, last };
    return this.result;
  }

  private endOf(i: number): number {
    return this.ends[i]!;
  }

  /** One cursor step towards the next file end; sets `result` when the batch ends. */
  private async advance(): Promise<void> {
    const want = this.endOf(this.step) - (this.step === 0 ? 0 : this.endOf(this.step - 1));
    const results = await this.client.query({ text: batchKeysStepSql(want), types: asText } as pg.QueryConfig);
    const list = (Array.isArray(results) ? results : [results]) as pg.QueryResult[];
    const fetched = list[list.length - 1]!;
    const moved = list.length > 1 ? list[0]!.rowCount ?? 0 : 0;
    this.passed += moved + (fetched.rowCount ?? 0);
    if (fetched.rowCount === 1) {
      this.found.push(keyTuple(this.plan, fetched.rows[0] as Record<string, unknown>));
      this.step++;
      if (this.step === this.ends.length) this.result = { rows: this.passed, last: this.found[this.found.length - 1]! };
    } else {
      this.result = { rows: this.passed, last: [] };
    }
  }
}
