import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../src/config/env.js';
import { syncRunner } from '../src/scheduler/run-job.js';
import { startWorker } from '../src/scheduler/worker.js';
import { syncFixture, type SyncFixture } from './helpers/sync-fixture.js';

const CLI = path.resolve(import.meta.dirname, '../src/cli/index.ts');

async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 45_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Starts `redshift-loader worker` as a real process; resolves once `line` appears in its log. */
function spawnWorker(f: SyncFixture, extraEnv: Record<string, string>): { child: ChildProcess; lines: string[]; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'worker'], {
    env: { ...process.env, ...f.target.env, DATABASE_URL: f.metaUrl, LOG_LEVEL: 'info', WORKER_TICK_SECONDS: '1', SYNC_DB_EVENTS_FREQUENCY: '1', ...extraEnv } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  child.stdout!.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
  child.stderr!.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, lines, exited };
}

async function sameRows(f: SyncFixture, table: string): Promise<{ source: number; target: number; distinct: number; equal: boolean }> {
  const a = (await f.source(`SELECT id, v FROM ${table} ORDER BY id`)).rows;
  const b = (await f.redshift(`SELECT id, v FROM ${f.target.schema}.${table} ORDER BY id`)).rows;
  const d = (await f.redshift(`SELECT count(DISTINCT id)::int AS n FROM ${f.target.schema}.${table}`)).rows[0].n as number;
  return { source: a.length, target: b.length, distinct: d, equal: JSON.stringify(a) === JSON.stringify(b) };
}

describe('worker with the real sync engine', () => {
  let f: SyncFixture;
  beforeAll(async () => {
    f = await syncFixture('wrk');
  });
  afterAll(() => f.close());

  it('keeps a changing table in step', async () => {
    await f.source(`CREATE TABLE live (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL DEFAULT now())`);
    await f.source(`INSERT INTO live (id, v) SELECT g, 'a' FROM generate_series(1, 100) g`);
    await f.redshift(`CREATE TABLE ${f.target.schema}.live (id INTEGER, v VARCHAR(10), updated_at TIMESTAMPTZ)`);
    await f.addTable({ source: 'live', mode: 'INSERT_AND_UPDATE', primaryKey: 'id', updatedKey: 'updated_at' });
    const ev = await f.meta(`INSERT INTO schedule_events (job_id, frequency) VALUES ($1, 1) RETURNING id`, [f.jobId]);
    const env = loadEnv({ ...f.target.env, DATABASE_URL: f.metaUrl, WORKER_TICK_SECONDS: '1', SYNC_DB_EVENTS_FREQUENCY: '1' });
    const w = startWorker({ metadataUrl: f.metaUrl, env, log: f.log, runJob: syncRunner(f.metaUrl, env, f.log) });
    try {
      await until('first sync', async () => (await sameRows(f, 'live')).equal);
      await f.source(`INSERT INTO live (id, v) SELECT g, 'b' FROM generate_series(101, 150) g`);
      await f.source(`UPDATE live SET v = 'changed', updated_at = now() WHERE id % 10 = 0`);
      await until('changes to arrive', async () => (await sameRows(f, 'live')).equal);
    } finally {
      await w.stop();
    }
    const e = await f.meta(`SELECT last_succeeded_at, last_error FROM schedule_events WHERE id = $1`, [ev.rows[0].id]);
    expect(e.rows[0].last_succeeded_at).toBeInstanceOf(Date);
    expect(e.rows[0].last_error).toBeNull();
    await f.meta(`DELETE FROM schedule_events`);
    await f.meta(`UPDATE tables SET disabled = true`);
  });

  it('SIGTERM mid-batch exits 0 within the grace period; kill -9 mid-batch is finished by another worker', async () => {
    await f.source(`CREATE TABLE bulk (id int PRIMARY KEY, v text)`);
    await f.source(`INSERT INTO bulk SELECT g, md5(g::text) FROM generate_series(1, 60000) g`);
    await f.redshift(`CREATE TABLE ${f.target.schema}.bulk (id INTEGER, v VARCHAR(32))`);
    await f.addTable({ source: 'bulk', mode: 'INSERT_ONLY', primaryKey: 'id', rowLimit: 2000, chunkSize: 1000 });
    await f.meta(`INSERT INTO schedule_events (job_id, frequency) VALUES ($1, 1)`, [f.jobId]);

    // 1. SIGTERM after the first batch: stop at a batch boundary, exit 0, no duplicates.
    const a = spawnWorker(f, { WORKER_LOCK_TTL_SECONDS: '4' });
    await until('a batch from worker A', async () => a.lines.some((l) => l.includes('batch loaded')));
    const t0 = Date.now();
    a.child.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(30_000);
    let s = await sameRows(f, 'bulk');
    expect(s.target).toBe(s.distinct);
    expect(s.target).toBeGreaterThan(0);
    expect(s.target).toBeLessThan(60000);

    // 2. kill -9 in the middle of the next run.
    const b = spawnWorker(f, { WORKER_LOCK_TTL_SECONDS: '4' });
    const seen = () => b.lines.filter((l) => l.includes('batch loaded')).length;
    await until('a batch from worker B', async () => seen() >= 1);
    b.child.kill('SIGKILL');
    await b.exited;
    s = await sameRows(f, 'bulk');
    expect(s.target).toBe(s.distinct);

    // 3. Another worker takes the job over once B's claim expires and finishes it.
    const c = spawnWorker(f, { WORKER_LOCK_TTL_SECONDS: '4' });
    try {
      await until('worker C to finish the table', async () => (await sameRows(f, 'bulk')).equal, 90_000);
    } finally {
      c.child.kill('SIGTERM');
      expect(await c.exited).toBe(0);
    }
    const runs = await f.meta(`SELECT status, count(*)::int AS n FROM sync_runs r JOIN tables t ON t.id = r.table_id WHERE t.source_name = 'bulk' GROUP BY status ORDER BY status`);
    expect(runs.rows.find((r) => r.status === 'succeeded')?.n).toBeGreaterThanOrEqual(1);
    expect(runs.rows.find((r) => r.status === 'running')).toBeUndefined();
    const abandoned = await f.meta(`SELECT error FROM sync_runs WHERE error LIKE 'abandoned:%'`);
    expect(abandoned.rowCount).toBe(1);
  }, 180_000); // three worker processes, one waiting out a killed one's 4 s claim TTL: bounded by the waits above
});
