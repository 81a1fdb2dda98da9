import * as sql from '../../redshift/sql.js';
import type { CopyAuth, KeyColumn, TableRef } from '../../redshift/sql.js';
import type { Compression } from '../../extract/compress.js';
import { FenceError, type Step } from '../fence.js';
import type { Position } from './lsn.js';

/**
 * The Redshift statements of one drained batch. Pure: names and positions in, SQL out.
 *
 * Per changed table, before the transaction: a staging table (target columns + markers)
 * and the COPY of its files. Then ONE transaction for all of them:
 *   BEGIN; LOCK every state table, the CDC position table and every target;
 *   per target: the fence (this run's token, unless a newer run's is there);
 *   the position: compare-and-set from where the batch starts to where it ends;
 *   per target: [TRUNCATE as DELETE], unchanged TOAST values taken from the target,
 *   delete every staged key, insert the staged rows (no key: remove and add row copies);
 *   COMMIT.
 */
export interface StagedTable {
  name: string;
  target: TableRef;
  /** Staged columns (the plan's) and the key columns (empty: no key, whole row images). */
  columns: readonly string[];
  key: readonly KeyColumn[];
  /** Every column with its text flag (row images of a table without a key). */
  allColumns: readonly KeyColumn[];
  staging: string;
  manifestUrl: string;
  truncated: boolean;
  /** Positions of TOASTed columns some staged row left unchanged. */
  unchanged: readonly number[];
  fence: { token: number; owner: string };
}

export const keylessOf = (t: Pick<StagedTable, 'key'>) => t.key.length === 0;

export function stageStatements(t: StagedTable, auth: CopyAuth, compression: Compression): string[] {
  const keyless = keylessOf(t);
  return [
    sql.createCdcStage(t.staging, t.target, t.columns, keyless),
    sql.copyFromManifest({ table: { name: t.staging, temp: true }, columns: [...t.columns, ...sql.cdcMarkerColumns(keyless)], manifestUrl: t.manifestUrl, auth, compression }),
  ];
}

export function applyStatements(t: StagedTable): string[] {
  const out: string[] = [];
  if (t.truncated) out.push(sql.deleteAllRows(t.target));
  if (keylessOf(t)) {
    const keep = `${t.staging}_keep`;
    out.push(
      sql.cdcKeylessKeep(keep, t.staging, t.target, t.allColumns),
      sql.cdcKeylessDelete(t.target, t.staging, t.allColumns),
      sql.insertAll(t.target, keep, t.columns),
      sql.cdcKeylessInsert(t.target, t.staging, t.columns),
      sql.dropTempTable(keep),
    );
    return out;
  }
  for (const i of t.unchanged) out.push(sql.cdcFillUnchanged(t.staging, t.target, t.columns[i]!, i, t.key));
  out.push(sql.deleteMatchingKeys(t.target, t.staging, t.key), sql.cdcInsertRows(t.target, t.staging, t.columns));
  return out;
}

export class PositionError extends Error {
  override name = 'PositionError';
}

export interface TransactionPlan {
  tables: readonly StagedTable[];
  /** The job's target schema (the CDC position table's). */
  stateSchema: string;
  slot: string;
  from: Position;
  to: Position;
  where: string;
}

export function applyTransaction(p: TransactionPlan): Step[] {
  const states = [...new Set(p.tables.map((t) => t.target.schema))].map(sql.stateTableRef);
  const steps: Step[] = ['BEGIN', sql.lockTables([...states, sql.cdcStateRef(p.stateSchema), ...p.tables.map((t) => t.target)])];
  for (const t of p.tables) {
    steps.push({
      sql: sql.claimFence(t.target.schema),
      params: [t.target.name, t.fence.token, t.fence.owner],
      show: `${sql.claimFence(t.target.schema)}; -- must update 1 row`,
      check: (r) => {
        if (r.rowCount !== 1) {
          throw new FenceError(
            `${p.where}, table ${t.name}: this run lost ${t.target.schema}.${t.target.name} to a newer run (its fencing token in ${t.target.schema}.${sql.STATE_TABLE} is above ours, ${t.fence.token}, or its row there is gone): nothing of this batch was committed and the slot was not confirmed; the next run goes on from the applied position`,
          );
        }
      },
    });
  }
  steps.push({
    sql: sql.updateCdcPosition(p.stateSchema),
    params: [p.slot, p.to.lsn, p.to.changes, p.from.lsn, p.from.changes],
    show: `${sql.updateCdcPosition(p.stateSchema)}; -- must update 1 row`,
    check: (r) => {
      if (r.rowCount !== 1) {
        throw new PositionError(
          `${p.where}: the applied position in ${p.stateSchema}.${sql.CDC_STATE_TABLE} is no longer ${p.from.lsn}/${p.from.changes} (another run applied changes of slot "${p.slot}"); nothing of this batch was committed, the next run goes on from there`,
        );
      }
    },
  });
  for (const t of p.tables) steps.push(...applyStatements(t));
  steps.push('COMMIT');
  return steps;
}

export const cleanupStatements = (t: StagedTable): string[] => [sql.dropTempTable(t.staging)];
