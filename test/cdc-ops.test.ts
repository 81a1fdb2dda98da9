import { spawn } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cdcNames, inspectSlot } from '../src/sync/cdc/slot.js';
import { slotWarnings } from '../src/sync/cdc/status.js';
import { collectStatus, formatStatus } from '../src/status/status.js';
import { expectReplica } from './helpers/compare.js';
import { syncFixture, type SyncFixture } from './helpers/sync-fixture.js';

/** copy_mode CDC: slot safety (status, cdc drop, what a disabled job leaves) and what the source must allow. */
const CLI = path.resolve(import.meta.dirname, '../src/cli/index.ts');

function cli(args: string[], env: Record<string, string | undefined>): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { env: { ...process.env, ...env } as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out, err })));
}

describe('copy_mode CDC: slot safety and source requirements', () => {
  let f: SyncFixture;
  let env: Record<string, string | undefined>;
  const slot = () => cdcNames(f.jobName).slot;
  const src = () => ({ query: (q: string, p?: unknown[]) => f.source(q, p) }) as unknown as pg.ClientBase;
  beforeAll(async () => {
    f = await syncFixture('cdcops');
    env = { ...f.target.env, DATABASE_URL: f.metaUrl, LOG_LEVEL: 'warn' };
    await f.source(`CREATE TABLE t (id int PRIMARY KEY, v text)`);
    await f.source(`INSERT INTO t SELECT g, 'v' FROM generate_series(1, 50) g`);
    await f.redshift(`CREATE TABLE ${f.target.schema}.t (id INTEGER NOT NULL, v VARCHAR(10))`);
    await f.addTable({ source: 't', mode: 'CDC', primaryKey: 'id' });
  });
  afterAll(async () => {
    await f.source(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`, [slot()]).catch(() => undefined);
    await f.close();
  });

  it('a source user without REPLICATION is refused with the statement that fixes it', async () => {
    await f.source(`CREATE ROLE cdc_plain LOGIN PASSWORD 'pw'`);
    await f.source(`GRANT SELECT ON t TO cdc_plain`);
    const u = new URL(f.sourceUrl);
    u.username = 'cdc_plain';
    u.password = 'pw';
    process.env.RL_TEST_PLAIN_SRC = u.toString();
    await f.meta(`UPDATE jobs SET source_connection_string = 'env:RL_TEST_PLAIN_SRC' WHERE id = $1`, [f.jobId]);
    try {
      const r = await f.sync();
      expect(r.ok).toBe(false);
      expect(r.tables[0]!.error).toBe(
        `job "${f.jobName}": the source user "cdc_plain" may not read the write-ahead log; copy_mode CDC needs the REPLICATION privilege: ALTER ROLE "cdc_plain" WITH REPLICATION (Amazon RDS/Aurora: GRANT rds_replication TO "cdc_plain")`,
      );
      expect(await inspectSlot(src(), slot())).toBeNull();
    } finally {
      await f.meta(`UPDATE jobs SET source_connection_string = $2 WHERE id = $1`, [f.jobId, `env:RL_TEST_SRC_CDCOPS`]);
    }
  });

  it('status shows the slot\'s WAL and lag; disabling the job\'s CDC tables says what is left; cdc drop removes slot and publication', async () => {
    expect((await f.sync()).ok).toBe(true);
    const rows = await collectStatus((await client(f.metaUrl)), f.jobName);
    expect(rows[0]!.mode).toBe('CDC');
    expect(rows[0]!.lag).toMatch(new RegExp(`^slot "${slot()}" keeps \\d+\\.\\d MB of WAL, drained \\d+ s ago$`));
    expect(rows[0]!.warnings).toEqual([]);
    expect(formatStatus(rows)).toContain('every change (write-ahead log)');
    // Past the thresholds (pure).
    const s = { job: 'shop', slot: 'rl_shop', publication: 'rl_shop', exists: true, active: false, retainedBytes: 3 * 1024 * 1024 * 1024, lagSeconds: 7200, enabledCdcTables: 2 };
    expect(slotWarnings(s, true, { retainedMb: 1024, lagSeconds: 3600 })).toEqual([
      'replication slot "rl_shop" of job "shop" keeps 3072.0 MB of WAL on the source (over CDC_WARN_RETAINED_MB = 1024): check that the job\'s runs succeed; if the job is abandoned, redshift-loader cdc drop --job shop',
      'replication slot "rl_shop" of job "shop" was last drained 7200 s ago (over CDC_WARN_LAG_SECONDS = 3600): check the job\'s schedule and last error',
    ]);

    await f.meta(`UPDATE tables SET disabled = true WHERE job_id = $1`, [f.jobId]);
    const before = f.logs.length;
    await f.sync();
    expect(f.logs.slice(before).some((l) => String(l.msg).startsWith(`job "${f.jobName}" has no enabled CDC table, but its replication slot "${slot()}" and publication "${slot()}" remain on the source and keep`))).toBe(true);
    const st = await cli(['status', '--job', f.jobName], env);
    expect(st.code).toBe(0);
    expect(st.err).toContain(`WARNING: job "${f.jobName}" has no enabled CDC table, but its replication slot "${slot()}"`);
    expect(st.err).toContain(`remove them with redshift-loader cdc drop --job ${f.jobName}`);

    const drop = await cli(['cdc', 'drop', '--job', f.jobName], env);
    expect(drop.code, drop.err).toBe(0);
    expect(drop.out).toBe(`job "${f.jobName}": dropped replication slot "${slot()}", dropped publication "${slot()}"; a later CDC run of the job creates them again and reloads its CDC tables\n`);
    expect(await inspectSlot(src(), slot())).toBeNull();
    expect((await f.source(`SELECT count(*)::int AS n FROM pg_publication WHERE pubname = $1`, [slot()])).rows[0].n).toBe(0);

    // Enabled again: a new slot, the table reloaded, changes made meanwhile are there.
    await f.source(`DELETE FROM t WHERE id <= 10`);
    await f.meta(`UPDATE tables SET disabled = false WHERE job_id = $1`, [f.jobId]);
    expect((await f.sync()).ok).toBe(true);
    expect(await expectReplica(f, { name: 't' }, { schema: f.target.schema })).toBe(40);
  }, 60_000);

  it('disable says what a CDC job or table leaves behind on the source', async () => {
    expect(await inspectSlot(src(), slot())).not.toBeNull(); // the previous test synced again
    const t = await cli(['disable', '--job', f.jobName, '--table', 't'], env);
    expect(t.code, t.err).toBe(0);
    expect(t.out).toContain(
      `note: copy_mode CDC: public.t leaves the job's publication at its next run; changes made while it is disabled are not captured, so it is loaded again in full when enabled; it was the job's last enabled CDC table, so its replication slot "${slot()}" and publication stay on the source and keep `,
    );
    expect(t.out).toContain(`remove them with redshift-loader cdc drop --job ${f.jobName}`);
    expect((await cli(['enable', '--job', f.jobName, '--table', 't'], env)).code).toBe(0);
    const j = await cli(['disable', '--job', f.jobName], env);
    expect(j.code, j.err).toBe(0);
    expect(j.out).toMatch(new RegExp(`note: copy_mode CDC: the job's replication slot "${slot()}" and publication "${slot()}" stay on the source while it is disabled and keep \\d+\\.\\d MB of WAL now, growing with every write there: remove them with redshift-loader cdc drop --job ${f.jobName}`));
    expect((await cli(['enable', '--job', f.jobName], env)).code).toBe(0);
  }, 60_000);

  it('verify compares a CDC table whole; reset loads it again in full', async () => {
    await f.source(`UPDATE t SET v = 'w' WHERE id = 20`);
    expect((await f.sync()).ok).toBe(true);
    const v = await cli(['verify', '--job', f.jobName], env);
    expect(v.code, v.out + v.err).toBe(0);
    await f.redshift(`DELETE FROM ${f.target.schema}.t WHERE id = 30`); // the target broken by hand
    const reset = await cli(['reset', '--job', f.jobName, '--table', 't', '--yes'], env);
    expect(reset.code, reset.err).toBe(0);
    expect(reset.out).toContain('reset sets cdc_loaded_lsn to NULL: the next run loads the whole table again');
    expect((await f.meta(`SELECT cdc_loaded_lsn FROM tables WHERE job_id = $1`, [f.jobId])).rows[0].cdc_loaded_lsn).toBeNull();
    expect((await f.sync()).ok).toBe(true);
    expect(await expectReplica(f, { name: 't' }, { schema: f.target.schema })).toBe(40);
  }, 60_000);

  const clients: pg.Client[] = [];
  async function client(url: string): Promise<pg.Client> {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    clients.push(c);
    return c;
  }
  afterAll(async () => {
    for (const c of clients) await c.end().catch(() => undefined);
  });
});
