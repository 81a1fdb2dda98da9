import type pg from 'pg';
import { redactText } from '../log.js';
import type { JobRow } from '../metadata/types.js';
import type { TableReport } from './report.js';
import { verifyJobRow, type VerifyDeps } from './run.js';
import { dueVerifyTableIds } from './store.js';

/**
 * The worker's scheduled verify: after a job's sync, every table of the job whose
 * `verify_interval_minutes` has passed since its last verify is verified (never repaired).
 * A difference is logged as an error with the table and counts (run.ts) and recorded on the
 * tables row; it does not fail the job's run, whose sync succeeded or failed on its own.
 * Never throws.
 */
export async function verifyDueTables(db: pg.ClientBase, job: JobRow, deps: VerifyDeps): Promise<TableReport[]> {
  try {
    if (deps.signal?.aborted) return [];
    const ids = await dueVerifyTableIds(db, job.id);
    if (ids.length === 0) return [];
    deps.log.info({ job: job.name, tables: ids.length }, 'scheduled verify started');
    const r = await verifyJobRow(db, job, { tableIds: ids }, deps);
    return r.tables;
  } catch (err) {
    deps.log.error({ job: job.name, err: redactText(err instanceof Error ? err.message : String(err)) }, 'scheduled verify failed');
    return [];
  }
}
