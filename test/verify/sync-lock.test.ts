import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyJob, type VerifyJobResult } from '../../src/verify/run.js';
import type { JobResult } from '../../src/sync/engine.js';
import { realRedshiftConfigured, targetDescription } from '../helpers/redshift.js';
import { stackEnv } from '../helpers/stack.js';
import { syncFixture, type SyncFixture } from '../helpers/sync-fixture.js';

/**
 * A verify reads the target on several Redshift sessions (EXTRACT_SESSIONS), each in its own
 * transaction, and a sync's merge starts with LOCK (ACCESS EXCLUSIVE) on the target. When that
 * LOCK arrives after one verify session has its snapshot (and its lock on the target) and
 * before the next one takes its own, the LOCK waits for the first session and the next
 * session queues behind the LOCK: Redshift sees no deadlock (the first session is idle), but
 * verify waits for its next session before it would end the first one, so neither ever
 * finished. The lock waits are seen in the double's upstream PostgreSQL.
 */
describe.skipIf(realRedshiftConfigured())(`verify while a sync's merge waits for the target's lock, against ${targetDescription}`, () => {
  let f: SyncFixture;
  let upstream: pg.Client;
  beforeAll(async () => {
    f = await syncFixture('vlock', { EXTRACT_SESSIONS: '2' });
    const url = new URL(stackEnv().STACK_POSTGRES_URL);
    url.pathname = new URL(f.target.url).pathname;
    upstream = new pg.Client({ connectionString: url.toString() });
    await upstream.connect();
  });
  afterAll(async () => {
    await upstream.end();
    await f.close();
  });

  const lockWaits = async () =>
    (
      await upstream.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relname = 'orders' AND l.mode = 'AccessExclusiveLock' AND NOT l.granted`,
        [f.target.schema],
      )
    ).rows[0]!.n;

  it('a sync whose LOCK arrives between two verify sessions\' snapshots neither hangs nor makes verify hang', async () => {
    await f.source(`CREATE TABLE orders (id serial PRIMARY KEY, note text, updated_at timestamptz NOT NULL DEFAULT now())`);
    await f.source(`INSERT INTO orders (note, updated_at) SELECT 'n' || g, now() - INTERVAL '1 day' + g * INTERVAL '1 second' FROM generate_series(1, 3000) g`);
    await f.redshift(`CREATE TABLE "${f.target.schema}".orders (id INTEGER NOT NULL, note VARCHAR(400), updated_at TIMESTAMPTZ NOT NULL)`);
    await f.addTable({ source: 'orders', mode: 'INSERT_AND_UPDATE', primaryKey: 'id', updatedKey: 'updated_at' });
    expect((await f.sync()).ok).toBe(true);
    // Something for the next sync to merge.
    await f.source(`UPDATE orders SET note = 'changed', updated_at = now() WHERE id % 100 = 0`);

    // After the first verify session has its snapshot: start a sync and wait until its merge's LOCK waits for the target.
    let sync: Promise<JobResult> | null = null;
    const snapshots: number[] = [];
    const afterTargetSnapshot = async ({ session }: { session: number }) => {
      snapshots.push(session);
      if (sync) return;
      sync = f.sync();
      const end = Date.now() + 30_000;
      while ((await lockWaits()) === 0) {
        if (Date.now() > end) throw new Error('the sync never reached its LOCK on the target');
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const verifying = verifyJob(f.metaUrl, f.jobName, {}, { env: f.env, log: f.log, afterTargetSnapshot });
    const hung = Symbol('hung');
    const first = await Promise.race([verifying, new Promise<typeof hung>((r) => setTimeout(() => r(hung), 30_000))]);
    if (first === hung) {
      // Say who waited on whom, then end every session on the target so the test can clean up.
      const who = await upstream.query(
        `SELECT pid, state, wait_event_type, pg_blocking_pids(pid) AS blocked_by, left(query, 120) AS query
           FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL`,
      );
      await upstream.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL`);
      await Promise.allSettled([verifying, sync]);
      expect.fail(`verify and the sync hung on each other's locks: ${JSON.stringify(who.rows)}`);
    }
    const v = first as VerifyJobResult;
    expect(snapshots[0]).toBe(0); // the main session takes its snapshot first
    // Verify went on without the session that would have waited (it says so) and compared the whole table.
    expect(f.logs.some((l) => /verifying on fewer Redshift sessions/.test(String(l.msg)))).toBe(true);
    expect(v.tables[0]!.status, JSON.stringify(v.tables[0])).toBe('match');
    expect(v.tables[0]!.compared!.sourceRows + (v.tables[0]!.leftOut?.sourceRows ?? 0)).toBe(3000);
    // The sync then got its lock and merged.
    const r = (await sync!) as JobResult;
    expect(r.ok, JSON.stringify(r)).toBe(true);
    expect(Number((await f.redshift(`SELECT count(*) AS n FROM "${f.target.schema}".orders WHERE note = 'changed'`)).rows[0].n)).toBe(30);
    expect((await verifyJob(f.metaUrl, f.jobName, {}, { env: f.env, log: f.log })).tables[0]!.status).toBe('match');
  }, 90_000);
});
