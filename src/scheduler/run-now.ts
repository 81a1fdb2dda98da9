import type { Env } from '../config/env.js';
import { connect, timeoutsFromEnv } from '../db/connect.js';
import type { Logger } from '../log.js';
import { syncJobRow, tableClaimsFor, type JobResult } from '../sync/engine.js';
import { getJobByName } from '../metadata/store.js';
import { JobClaims, makeWorkerId } from '../metadata/claims.js';

/**
 * `redshift-loader run --job NAME`: the worker's run of a job, now, in this process. It
 * claims the job as a worker does (so no worker starts the same job meanwhile, and it
 * refuses while a worker runs it), then syncs every enabled table, each under its table
 * claim. The job's schedule_events rows are left as they are: the next scheduled run
 * comes when it would have come.
 */
export type RunNowResult = { refused: string } | { result: JobResult; jobDisabled: boolean };

export async function runJobNow(metadataUrl: string, jobName: string, deps: { env: Env; log: Logger; signal?: AbortSignal }): Promise<RunNowResult> {
  const workerId = makeWorkerId('run');
  const tables = tableClaimsFor(metadataUrl, { env: deps.env, log: deps.log, workerId });
  const db = await connect(metadataUrl, 'redshift-loader run', timeoutsFromEnv(deps.env));
  try {
    const job = await getJobByName(db, jobName);
    const jobs = new JobClaims(tables.pool, { workerId, ttlSeconds: deps.env.WORKER_LOCK_TTL_SECONDS, log: deps.log });
    const got = await jobs.claimOrHolder(job.id);
    if ('holder' in got) {
      const h = got.holder;
      return {
        refused: `job "${job.name}" is running now (claimed by ${h.claimedBy} until ${h.expiresAt?.toISOString() ?? '?'}, unless renewed); wait for it to finish (redshift-loader status shows it), then run it again`,
      };
    }
    const claim = got.claim;
    try {
      const signal = deps.signal ? AbortSignal.any([deps.signal, claim.signal]) : claim.signal;
      const result = await syncJobRow(db, job, {}, { env: deps.env, log: deps.log, signal, workerId, claims: tables.claims });
      return { result, jobDisabled: !job.enabled };
    } finally {
      await claim.release().catch(() => undefined);
    }
  } finally {
    await db.end().catch(() => undefined);
    await tables.close();
  }
}
