import type { Env } from '../config/env.js';
import { connect, timeoutsFromEnv } from '../db/connect.js';
import type { Logger } from '../log.js';
import { syncJobRow, tableClaimsFor } from '../sync/engine.js';
import { getJobById } from '../sync/metadata.js';
import { verifyDueTables } from '../verify/schedule.js';
import type { RunJob } from './worker.js';

/**
 * The worker's runner: one job = every enabled table of it, through the sync engine. Each
 * table is claimed as the CLI claims it (one writer per table); a run still marked running
 * for a table is closed by the next run that holds that table's claim.
 */
export function syncRunner(metadataUrl: string, env: Env, log: Logger, workerId?: string): RunJob {
  let claims: ReturnType<typeof tableClaimsFor> | null = null;
  return async (job, signal) => {
    claims ??= tableClaimsFor(metadataUrl, { env, log, workerId });
    const db = await connect(metadataUrl, 'redshift-loader worker', timeoutsFromEnv(env));
    try {
      const row = await getJobById(db, job.id);
      if (!row.enabled) return { ok: true };
      const r = await syncJobRow(db, row, {}, { env, log, signal, workerId, claims: claims.claims });
      // Tables whose verify_interval_minutes has passed are verified after the sync (issue 17); never throws.
      await verifyDueTables(db, row, { env, log, signal, workerId });
      if (signal.aborted && r.tables.length === 0) return { ok: false, error: 'interrupted before any table ran' };
      const failed = r.tables.filter((t) => !t.ok);
      if (failed.length === 0) return { ok: true };
      return { ok: false, error: `${failed.length} of ${r.tables.length} table(s) failed: ${failed.map((f) => f.error).join(' | ')}` };
    } finally {
      await db.end().catch(() => undefined);
    }
  };
}
