import type pg from 'pg';
import * as sql from '../redshift/sql.js';
import type { TableRef } from '../redshift/sql.js';
import { quoteLiteral } from '../sql/quote.js';

/**
 * One writer per target table, proved inside Redshift. A run holds its tables row's claim
 * (metadata DB) with a fencing token from one sequence; when it starts it writes that token
 * into the target schema's `redshift_loader_state` row for the target, unless a newer one
 * is there. Every Redshift transaction of the run that writes the target locks that table
 * first and checks the token is still its own, so a run that lost its claim (frozen,
 * delayed, its claim expired and taken over) can never commit: the check and the write are
 * in one transaction, and the newer run's `take` waits for the lock.
 */
export class FenceError extends Error {
  override name = 'FenceError';
}

/** A transaction step: a statement, optionally with parameters and a check of its result. */
export type Step = string | { sql: string; params: unknown[]; check: (r: pg.QueryResult) => void; show: string };

export class Fence {
  constructor(
    readonly target: TableRef,
    readonly token: number,
    /** Who holds it, for the other side's messages (worker id and run id). */
    readonly owner: string,
  ) {}

  get state(): TableRef {
    return sql.stateTableRef(this.target.schema);
  }

  /** Writes this run's token for the target, unless a newer run's is there (then throws). */
  async take(rs: pg.ClientBase, where: string): Promise<void> {
    await createStateTable(rs, this.target.schema);
    await rs.query('BEGIN');
    try {
      await rs.query(sql.lockTables([this.state]));
      const r = await rs.query<{ run_token: string; owner: string | null; taken_at: string | null }>(sql.readFence(this.target.schema), [this.target.name]);
      const cur = r.rows[0];
      if (!cur) await rs.query(sql.insertFence(this.target.schema), [this.target.name, this.token, this.owner]);
      else if (Number(cur.run_token) < this.token) await rs.query(sql.updateFence(this.target.schema), [this.target.name, this.token, this.owner]);
      else if (Number(cur.run_token) > this.token) {
        throw new FenceError(
          `${where}: a newer run (fencing token ${cur.run_token}, ${cur.owner ?? '?'}, since ${cur.taken_at ?? '?'}) owns ${this.target.schema}.${this.target.name}; this run (token ${this.token}) stops without writing. ` +
            `If no such run exists (e.g. the metadata DB was restored from an older backup), remove its mark: DELETE FROM ${sql.ref(this.state)} WHERE target_table = ${quoteLiteral(this.target.name)}`,
        );
      }
      await rs.query('COMMIT');
    } catch (err) {
      await rs.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  /** The lock every writing transaction starts with: the state table, then the target(s). */
  lock(...tables: TableRef[]): string {
    return sql.lockTables([this.state, ...tables]);
  }

  /** The step right after `lock`: the target's token must still be this run's. */
  check(where: string): Step {
    return {
      sql: sql.readFence(this.target.schema),
      params: [this.target.name],
      show: `${sql.readFence(this.target.schema).replace('$1', quoteLiteral(this.target.name))}; -- must return run_token ${Number.isNaN(this.token) ? "<this run's claim token>" : this.token}, else the transaction is rolled back`,
      check: (r) => {
        const cur = r.rows[0] as { run_token: string; owner: string | null; taken_at: string | null } | undefined;
        if (!cur || Number(cur.run_token) !== this.token) {
          throw new FenceError(
            `${where}: this run lost ${this.target.schema}.${this.target.name} to another run (fencing token ${cur?.run_token ?? 'none'}${cur?.owner ? `, ${cur.owner}` : ''}${cur?.taken_at ? `, since ${cur.taken_at}` : ''}; ours ${this.token}), ` +
              'typically after its claim expired while it was stalled: nothing of it was committed and the watermark was kept',
          );
        }
      },
    };
  }
}

async function createStateTable(rs: pg.ClientBase, schema: string): Promise<void> {
  try {
    await rs.query(sql.createStateTable(schema));
  } catch (err) {
    // Two runs creating it at once: the loser's error is harmless if the table is there now.
    const again = await rs.query(`SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = $2`, [schema, sql.STATE_TABLE]).catch(() => null);
    if (!again || again.rowCount === 0) throw err;
  }
}

/** A step's SQL as printed (dry-run). */
export const showStep = (s: Step) => (typeof s === 'string' ? `${s};` : s.show);
