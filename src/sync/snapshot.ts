import type pg from 'pg';
import { DEFAULT_TIMEOUTS, connect, destroyClient, type SessionTimeouts } from '../db/connect.js';
import { quoteLiteral } from '../sql/quote.js';

/**
 * Extra source sessions that read the very snapshot of the batch's main session
 * (`pg_export_snapshot` / `SET TRANSACTION SNAPSHOT`), so files of one batch can be
 * extracted and compressed concurrently and still form one consistent batch.
 */
export class SnapshotSessions {
  private readonly clients: pg.Client[] = [];
  private unavailable: string | null = null;
  private reported = false;

  constructor(
    private readonly url: string,
    /** Sessions besides the main one. */
    private readonly extra: number,
    private readonly timeouts: SessionTimeouts = DEFAULT_TIMEOUTS,
  ) {}

  /** Why extra sessions are not used (the first failure), or null. */
  get disabledReason(): string | null {
    return this.unavailable;
  }

  /** The failure to report, once: non-null the first time it is asked after a failure. */
  takeUnreported(): string | null {
    if (!this.unavailable || this.reported) return null;
    this.reported = true;
    return this.unavailable;
  }

  /**
   * Joins up to `wanted` extra sessions (opened once, reused across batches) to the open
   * REPEATABLE READ transaction of `main`. Returns [] (and remembers why) when the source
   * cannot share snapshots, e.g. behind a transaction-pooling proxy: the batch then runs
   * on the main session alone, which is always correct, only slower.
   */
  async join(main: pg.ClientBase, wanted: number): Promise<pg.Client[]> {
    const n = Math.min(this.extra, wanted);
    if (n <= 0 || this.unavailable) return [];
    const joined: pg.Client[] = [];
    try {
      const snap = await main.query<{ id: string }>('SELECT pg_export_snapshot() AS id');
      const id = snap.rows[0]!.id;
      while (this.clients.length < n) this.clients.push(await connect(this.url, 'redshift-loader extract', this.timeouts));
      for (const c of this.clients.slice(0, n)) {
        await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        joined.push(c);
        await c.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(id)}`);
      }
      return joined;
    } catch (err) {
      this.unavailable = err instanceof Error ? err.message : String(err);
      await this.finish(joined, 'ROLLBACK');
      await this.close();
      return [];
    }
  }

  /** Ends the joined sessions' transactions (COMMIT after a good extract, else ROLLBACK). */
  async finish(joined: pg.Client[], how: 'COMMIT' | 'ROLLBACK'): Promise<void> {
    for (const c of joined) await c.query(how).catch(() => undefined);
  }

  async close(): Promise<void> {
    for (const c of this.clients.splice(0)) await c.end().catch(() => undefined);
  }

  /** Closes every session at once, even mid-query (a batch past its deadline). */
  destroy(): void {
    for (const c of this.clients.splice(0)) destroyClient(c);
  }
}
