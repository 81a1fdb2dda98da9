import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cdcNames } from '../src/sync/cdc/slot.js';
import { expectReplica } from './helpers/compare.js';
import { targetDescription } from './helpers/redshift.js';
import { syncFixture, type SyncFixture } from './helpers/sync-fixture.js';

/**
 * copy_mode CDC under kill -9 (issue 20): a `sync` process is stopped at a phase of its run
 * (REDSHIFT_LOADER_TEST_PAUSE_AT, src/sync/cdc/pause.ts), killed there, and the next run must
 * leave the target equal to the source, without duplicates.
 */
const CLI = path.resolve(import.meta.dirname, '../src/cli/index.ts');

interface Child {
  paused: Promise<void>;
  exited: Promise<number | null>;
  kill(): void;
  out(): string;
}

function cliPausedAt(phase: string, env: Record<string, string | undefined>): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'sync', '--job', env.JOB!], {
    env: { ...process.env, ...env, REDSHIFT_LOADER_TEST_PAUSE_AT: phase } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let resolvePaused!: () => void;
  let rejectPaused!: (e: Error) => void;
  const paused = new Promise<void>((res, rej) => ((resolvePaused = res), (rejectPaused = rej)));
  const onData = (d: Buffer) => {
    out += d.toString();
    if (out.includes(`RL_TEST_PAUSED ${phase}`)) resolvePaused();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
  void exited.then((c) => rejectPaused(new Error(`the sync exited (${c}) before reaching ${phase}:\n${out}`)));
  return { paused, exited, kill: () => child.kill('SIGKILL'), out: () => out };
}

describe(`copy_mode CDC: kill -9 at every phase, then a rerun, against ${targetDescription}`, () => {
  let f: SyncFixture;
  let env: Record<string, string | undefined>;
  let tid: number;
  beforeAll(async () => {
    f = await syncFixture('cdcx', { CDC_BATCH_ROWS: '500' });
    env = { ...f.target.env, DATABASE_URL: f.metaUrl, LOG_LEVEL: 'info', CDC_BATCH_ROWS: '500', JOB: f.jobName };
    await f.source(`CREATE TABLE acct (id int PRIMARY KEY, balance int NOT NULL, note text)`);
    await f.source(`CREATE TABLE ledger (id int PRIMARY KEY, acct int, amount int)`);
    await f.source(`INSERT INTO acct SELECT g, 100, 'n' FROM generate_series(1, 1000) g`);
    await f.redshift(`CREATE TABLE ${f.target.schema}.acct (id INTEGER NOT NULL, balance INTEGER NOT NULL, note VARCHAR(100))`);
    await f.redshift(`CREATE TABLE ${f.target.schema}.ledger (id INTEGER NOT NULL, acct INTEGER, amount INTEGER)`);
    // A table without a key: replaying an applied change would add a copy of the row, so
    // it shows whether a rerun skips exactly what Redshift already holds.
    await f.source(`CREATE TABLE events (acct int, kind text)`);
    await f.source(`ALTER TABLE events REPLICA IDENTITY FULL`);
    await f.redshift(`CREATE TABLE ${f.target.schema}.events (acct INTEGER, kind VARCHAR(20))`);
    await f.addTable({ source: 'events', mode: 'CDC', primaryKey: null });
    tid = await f.addTable({ source: 'acct', mode: 'CDC', primaryKey: 'id' });
    await f.addTable({ source: 'ledger', mode: 'CDC', primaryKey: 'id' });
    const r = await f.sync();
    expect(r.ok, JSON.stringify(r.tables)).toBe(true);
  });
  afterAll(async () => {
    await f.source(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`, [cdcNames(f.jobName).slot]).catch(() => undefined);
    await f.close();
  });

  async function exact(): Promise<void> {
    await expectReplica(f, { name: 'events' }, { schema: f.target.schema }); // a multiset: copies count
    for (const name of ['acct', 'ledger']) {
      await expectReplica(f, { name }, { schema: f.target.schema });
      const d = await f.redshift(`SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM ${f.target.schema}.${name}`);
      expect(d.rows[0].n, `${name}: duplicates`).toBe(d.rows[0].d);
    }
    expect((await f.meta(`SELECT count(*)::int AS n FROM sync_runs WHERE job_id = $1 AND status = 'running'`, [f.jobId])).rows[0].n).toBe(0);
  }

  let round = 0;
  for (const phase of ['drain', 'upload', 'before-commit', 'after-commit', 'before-confirm']) {
    it(`killed ${phase === 'drain' ? 'during the drain' : phase === 'upload' ? 'during the upload' : phase.replace('-', ' the Redshift ').replace('confirm', 'slot confirm').replace('the Redshift slot', 'the slot')}: the rerun is exact`, async () => {
      round++;
      // 1200 changes over both tables, in transactions that each touch both: three batches.
      const base = round * 10_000;
      await f.source(`BEGIN; UPDATE acct SET balance = balance - ${round} WHERE id <= 300; INSERT INTO ledger SELECT ${base} + g, g, -${round} FROM generate_series(1, 300) g; COMMIT`);
      await f.source(`BEGIN; DELETE FROM acct WHERE id IN (SELECT id FROM acct ORDER BY id DESC LIMIT 100); INSERT INTO acct SELECT ${base} + g, 1, 'new' FROM generate_series(1, 100) g; COMMIT`);
      await f.source(`UPDATE ledger SET amount = amount * 2 WHERE id > ${base}`);
      await f.source(`BEGIN; INSERT INTO events SELECT g % 40, 'r${round}' FROM generate_series(1, 200) g; DELETE FROM events WHERE ctid IN (SELECT ctid FROM events WHERE kind = 'r${round - 1}' LIMIT 30); COMMIT`);
      const victim = cliPausedAt(phase, env);
      try {
        await victim.paused;
      } finally {
        victim.kill();
      }
      await victim.exited;
      // The dead run's claims expire; the next run takes the job's tables.
      await f.meta(`UPDATE tables SET claim_expires_at = now() - interval '1 second' WHERE job_id = $1 AND claimed_by IS NOT NULL`, [f.jobId]);
      const r = await f.sync();
      expect(r.ok, JSON.stringify(r.tables)).toBe(true);
      await exact();
      const runs = await f.meta(`SELECT status FROM sync_runs WHERE table_id = $1 ORDER BY id DESC LIMIT 2`, [tid]);
      expect(runs.rows.map((x) => x.status)).toEqual(['succeeded', 'abandoned']);
    }, 90_000);
  }

  it('two runs never read one slot: the second names the run that drains it, and a foreign reader of the slot is named by its PID', async () => {
    await f.source(`UPDATE acct SET balance = balance + 1 WHERE id <= 10`);
    const first = cliPausedAt('drain', env);
    try {
      await first.paused;
      // The job's CDC tables are claimed by the first run.
      const r = await f.sync();
      expect(r.ok).toBe(false);
      for (const t of r.tables) {
        expect(t.error).toMatch(
          new RegExp(`^job "${f.jobName}": another run is draining this job's change stream \\(replication slot "${cdcNames(f.jobName).slot}"; it holds table public\\.\\w+: sync@[^,]+, since \\S+, claim until \\S+ unless renewed\\), so this run left the CDC tables alone`),
        );
      }
      // Its claims expire while it still reads the slot: the server refuses a second reader.
      await f.meta(`UPDATE tables SET claim_expires_at = now() - interval '1 second' WHERE job_id = $1`, [f.jobId]);
      const again = await f.sync();
      expect(again.ok).toBe(false);
      expect(again.tables[0]!.error).toMatch(new RegExp(`replication slot "${cdcNames(f.jobName).slot}" is in use by another session \\(PID \\d+\\): another worker or sync command is draining this job`));
    } finally {
      first.kill();
    }
    await first.exited;
    await f.meta(`UPDATE tables SET claim_expires_at = now() - interval '1 second' WHERE job_id = $1 AND claimed_by IS NOT NULL`, [f.jobId]);
    const r = await f.sync();
    expect(r.ok, JSON.stringify(r.tables)).toBe(true);
    await exact();
  }, 90_000);
});
