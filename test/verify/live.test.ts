import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyJob } from '../../src/verify/run.js';
import type { TableReport } from '../../src/verify/report.js';
import { targetDescription } from '../helpers/redshift.js';
import { syncFixture, type SyncFixture } from '../helpers/sync-fixture.js';

/**
 * A live table: writers insert and update rows (some in transactions held open, so they
 * commit late) while the loader syncs it again and again and verify runs meanwhile. Every
 * verify must report no difference: rows changed after the stored watermark are left out,
 * on whichever side they are.
 */
describe(`verify on a busy table, against ${targetDescription}`, () => {
  let f: SyncFixture;
  beforeAll(async () => {
    f = await syncFixture('vlive');
  });
  afterAll(() => f.close());

  it('reports no false differences while writers and syncs run, and a clean match once they stop', async () => {
    // If this test ever stalls, say where: the phases it went through and who waits on whom at the source.
    const phases: string[] = [];
    const phase = (p: string) => phases.push(`${new Date().toISOString().slice(11, 23)} ${p}`);
    const watchdog = setTimeout(() => {
      // The source's sessions and, when the target is the double (a database on the same server), the target's.
      void f
        .source(
          `SELECT datname, pid, application_name, state, wait_event_type, wait_event, pg_blocking_pids(pid) AS blocked_by,
                  now() - xact_start AS xact_age, left(query, 160) AS query
             FROM pg_stat_activity WHERE datname IN (current_database(), $1) AND pid <> pg_backend_pid() ORDER BY datname, pid`,
          [new URL(f.target.url).pathname.slice(1)],
        )
        .then((r) => console.error(`verify/live stalled; last phases:\n${phases.slice(-12).join('\n')}\nsource and target sessions: ${JSON.stringify(r.rows, null, 1)}`))
        .catch((e: unknown) => console.error(`verify/live stalled; last phases:\n${phases.slice(-12).join('\n')}\n(${String(e)})`));
    }, 45_000);
    try {
      await f.source(`CREATE TABLE orders (id serial PRIMARY KEY, status text NOT NULL, amount numeric(10,2), note varchar(40), updated_at timestamptz NOT NULL DEFAULT now())`);
      await f.source(`INSERT INTO orders (status, amount, note, updated_at) SELECT 'new', g / 10.0, 'n' || g, now() - INTERVAL '1 day' + g * INTERVAL '1 second' FROM generate_series(1, 5000) g`);
      await f.redshift(`CREATE TABLE "${f.target.schema}".orders (id INTEGER NOT NULL, status VARCHAR(400) NOT NULL, amount NUMERIC(10,2), note VARCHAR(160), updated_at TIMESTAMPTZ NOT NULL)`);
      await f.addTable({ source: 'orders', mode: 'INSERT_AND_UPDATE', primaryKey: 'id', updatedKey: 'updated_at', rowLimit: 2000, chunkSize: 500 });
      expect((await f.sync()).ok).toBe(true);

      let stop = false;
      const writers: Promise<number>[] = [];
      const clients: pg.Client[] = [];
      for (let w = 0; w < 3; w++) {
        const c = new pg.Client({ connectionString: f.sourceUrl });
        await c.connect();
        clients.push(c);
        writers.push(
          (async () => {
            let n = 0;
            while (!stop) {
              n++;
              await c.query('BEGIN');
              // updated_at = now(): the transaction's start, which a late commit leaves in the past.
              await c.query(`UPDATE orders SET status = 'w${w}-' || $1, amount = amount + 1, updated_at = now() WHERE id = (SELECT 1 + floor(random() * 5000)::int)`, [n]);
              await c.query(`INSERT INTO orders (status, amount, note) VALUES ('new', $1, 'writer ${w}')`, [n]);
              if (n % 10 === 0) await new Promise((r) => setTimeout(r, 250)); // held open: commits late
              await c.query('COMMIT');
              await new Promise((r) => setTimeout(r, 5));
            }
            return n;
          })(),
        );
      }
      const syncs = (async () => {
        let n = 0;
        while (!stop) {
          phase('sync');
          const r = await f.sync();
          phase(`sync done ${r.ok}`);
          expect(r.ok, JSON.stringify(r)).toBe(true);
          n++;
          await new Promise((res) => setTimeout(res, 100));
        }
        return n;
      })();
      const reports: TableReport[] = [];
      try {
        await new Promise((r) => setTimeout(r, 1500));
        for (let i = 0; i < 6; i++) {
          phase('verify');
          const r = await verifyJob(f.metaUrl, f.jobName, {}, { env: f.env, log: f.log });
          phase(`verify done ${r.tables[0]!.status}`);
          reports.push(r.tables[0]!);
          await new Promise((res) => setTimeout(res, 300));
        }
      } finally {
        stop = true;
        phase('stopping writers and syncs');
        await Promise.all([...writers, syncs]);
        phase('stopped');
        for (const c of clients) await c.end();
      }
      const changes = await f.source(`SELECT count(*) AS n FROM orders WHERE status <> 'new' OR id > 5000`);
      expect(Number(changes.rows[0].n)).toBeGreaterThan(100);
      for (const r of reports) {
        expect(r.status, JSON.stringify({ missing: r.missing, extra: r.extra, differ: r.differ, leftOut: r.leftOut, error: r.error })).toBe('match');
        expect(r.compared!.sourceRows).toBeGreaterThan(4000);
      }
      // Some verify saw rows changed after the watermark and left them out.
      expect(reports.some((r) => (r.leftOut?.sourceRows ?? 0) > 0)).toBe(true);
      // Once the writers stop and a sync catches up, only the overlap window is left out, and everything else matches.
      expect((await f.sync()).ok).toBe(true);
      const last = (await verifyJob(f.metaUrl, f.jobName, {}, { env: f.env, log: f.log })).tables[0]!;
      expect(last.status).toBe('match');
      const total = Number((await f.source(`SELECT count(*) AS n FROM orders`)).rows[0].n);
      expect(last.compared!.sourceRows + last.leftOut!.sourceRows).toBe(total);
    } finally {
      clearTimeout(watchdog);
    }
  }, 90_000);
});
