import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redshift } from '../src/admin/redshift.js';
import { createS3Client, listKeys, putText } from '../src/s3/client.js';
import { syncJob } from '../src/sync/engine.js';
import { expectReplica } from './helpers/compare.js';
import { targetDescription } from './helpers/redshift.js';
import { syncFixture, type SyncFixture } from './helpers/sync-fixture.js';
import { tcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';

/**
 * One writer per table, whoever starts it; a run that lost its claim never commits; hangs
 * become errors; what crashed runs leave is swept (issue 15). S3 traffic goes through a
 * proxy the tests can hold.
 */
const CLI = path.resolve(import.meta.dirname, '../src/cli/index.ts');

interface Proc {
  code: Promise<number | null>;
  out: () => string;
  kill(signal: NodeJS.Signals): void;
}

function cli(args: string[], env: Record<string, string | undefined>): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { env: { ...process.env, ...env } as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return { code: new Promise((resolve) => child.once('exit', (c) => resolve(c))), out: () => out, kill: (s) => child.kill(s) };
}

async function until(what: string, ready: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe(`runs that overlap, hang or die, against ${targetDescription}`, () => {
  let f: SyncFixture;
  let proxy: TcpProxy;
  let env: Record<string, string | undefined>;
  beforeAll(async () => {
    f = await syncFixture('conc');
    proxy = await tcpProxy(f.env.S3_ENDPOINT!);
    env = { ...f.target.env, DATABASE_URL: f.metaUrl, S3_ENDPOINT: proxy.url, LOG_LEVEL: 'info' };
  });
  afterAll(async () => {
    proxy.resume();
    await proxy.close();
    await f.close();
  });

  /** A source table of n rows and its target, as a `tables` row of the fixture's job. */
  async function table(name: string, n: number, mode = 'FULL_DATA_SYNC', rowLimit = 1000) {
    await f.source(`CREATE TABLE ${name} (id int PRIMARY KEY, v text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())`);
    await f.source(`INSERT INTO ${name} (id, v) SELECT g, 'v1' FROM generate_series(1, ${n}) g`);
    await f.redshift(`CREATE TABLE ${f.target.schema}.${name} (id INTEGER NOT NULL, v VARCHAR(10) NOT NULL, updated_at TIMESTAMPTZ NOT NULL)`);
    return f.addTable({ source: name, mode, primaryKey: 'id', updatedKey: mode === 'INSERT_AND_UPDATE' ? 'updated_at' : null, rowLimit, chunkSize: 250 });
  }

  async function clean(name: string, tid: number) {
    expect(await expectReplica(f, { name }, { schema: f.target.schema })).toBeGreaterThan(0);
    const dup = await f.redshift(`SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM ${f.target.schema}.${name}`);
    expect(dup.rows[0].n).toBe(dup.rows[0].d);
    expect((await f.meta(`SELECT count(*)::int AS n FROM sync_runs WHERE table_id = $1 AND status = 'running'`, [tid])).rows[0].n).toBe(0);
    expect((await f.meta(`SELECT claimed_by FROM tables WHERE id = $1`, [tid])).rows[0].claimed_by).toBeNull();
    expect(await listKeys(createS3Client(f.env), f.env.S3_BUCKET!, `redshift-loader-test/${f.jobName}/public.${name}/`)).toEqual([]);
    const swaps = await f.redshift(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = $1 AND tablename LIKE $2`, [f.target.schema, `${name}\\_rl\\_%`]);
    expect(swaps.rows[0].n).toBe(0);
  }

  it('two `sync` commands at once: the second leaves the table alone and names the holder; the target is exact', async () => {
    const tid = await table('twice', 5000);
    proxy.pause(); // the first run will wait on S3, holding its claim
    try {
      const a = cli(['sync', '--job', f.jobName, '--table', 'twice'], env);
      await until('the first run to claim the table', async () => (await f.meta(`SELECT claimed_by FROM tables WHERE id = $1`, [tid])).rows[0].claimed_by !== null);
      const b = cli(['sync', '--job', f.jobName, '--table', 'twice'], env);
      expect(await b.code).toBe(1);
      expect(b.out()).toMatch(/FAILED public\.twice: 0 rows in 0 batch\(es\) -- job "conc_job", table public\.twice: another run is syncing this table \(sync@[^,]+, since \S+; its claim lasts until \S+ unless renewed\), so this run left it alone: wait for that run to finish, or stop it/);
      proxy.resume();
      expect(await a.code, a.out()).toBe(0);
    } finally {
      proxy.resume();
    }
    await clean('twice', tid);
  });

  it('a `sync` command while the worker runs the table: one of them syncs, the other names the holder', async () => {
    const tid = await table('shared', 3000);
    await f.meta(`INSERT INTO schedule_events (job_id, frequency) VALUES ($1, 3600)`, [f.jobId]);
    await f.meta(`UPDATE tables SET disabled = (source_name <> 'shared') WHERE job_id = $1`, [f.jobId]);
    proxy.pause();
    const worker = cli(['worker', '--no-migrate'], { ...env, WORKER_TICK_SECONDS: '1', SYNC_DB_EVENTS_FREQUENCY: '1' });
    try {
      await until('the worker to claim the table', async () => (await f.meta(`SELECT claimed_by FROM tables WHERE id = $1`, [tid])).rows[0].claimed_by !== null);
      const holder = (await f.meta(`SELECT claimed_by FROM tables WHERE id = $1`, [tid])).rows[0].claimed_by as string;
      const manual = cli(['sync', '--job', f.jobName, '--table', 'shared'], env);
      expect(await manual.code).toBe(1);
      expect(manual.out()).toContain(`another run is syncing this table (${holder}, since `);
      proxy.resume();
      await until('the worker to finish the table', async () => (await f.meta(`SELECT count(*)::int AS n FROM sync_runs WHERE table_id = $1 AND status = 'succeeded'`, [tid])).rows[0].n === 1);
    } finally {
      proxy.resume();
      worker.kill('SIGTERM');
      expect(await worker.code).toBe(0);
      await f.meta(`DELETE FROM schedule_events WHERE job_id = $1`, [f.jobId]);
      await f.meta(`UPDATE tables SET disabled = false WHERE job_id = $1`, [f.jobId]);
    }
    await clean('shared', tid);
  }, 90_000);

  describe('a run stalled between its extract and its commit while its claim expires and another run completes', () => {
    for (const mode of ['INSERT_AND_UPDATE', 'FULL_DATA_SYNC']) {
      it(`${mode}: the stalled run cannot commit (the fence in Redshift); the newer rows stay`, async () => {
        const name = `stall_${mode === 'FULL_DATA_SYNC' ? 'full' : 'upd'}`;
        const tid = await table(name, 500, mode, 1000);
        expect((await f.sync({ table: name })).ok).toBe(true);
        await f.source(`UPDATE ${name} SET v = 'v2', updated_at = now()`);
        let later: Awaited<ReturnType<typeof syncJob>> | null = null;
        const stalled = await f.sync({
          table: name,
          deps: {
            beforeWrite: async () => {
              if (later) return;
              // While this run is stalled, its claim expires, and a newer run reads v3 and commits.
              await f.source(`UPDATE ${name} SET v = 'v3', updated_at = now()`);
              await f.meta(`UPDATE tables SET claim_expires_at = now() - interval '1 second' WHERE id = $1`, [tid]);
              later = await syncJob(f.metaUrl, f.jobName, { tableGlob: name }, { env: f.env, log: f.log, workerId: 'newer-run' });
            },
          },
        });
        expect(later!.ok, JSON.stringify(later)).toBe(true);
        expect(stalled.ok).toBe(false);
        expect(stalled.tables[0]!.error).toMatch(
          new RegExp(`^job "conc_job", table public\\.${name}: (batch 1: )?this run lost ${f.target.schema}\\.${name} to another run \\(fencing token \\d+, newer-run run \\d+, since [^)]+; ours \\d+\\), typically after its claim expired while it was stalled: nothing of it was committed and the watermark was kept$`),
        );
        expect((await f.redshift(`SELECT DISTINCT v FROM ${f.target.schema}.${name}`)).rows).toEqual([{ v: 'v3' }]);
        await clean(name, tid);
        // And later runs go on normally.
        await f.source(`UPDATE ${name} SET v = 'v4', updated_at = now() WHERE id <= 10`);
        expect((await f.sync({ table: name })).ok).toBe(true);
        await clean(name, tid);
      });
    }
  });

  it('a merge never replaces a row with an older version of it (updated key compared in the transaction)', async () => {
    const tid = await table('older', 3, 'INSERT_AND_UPDATE');
    expect((await f.sync({ table: 'older' })).ok).toBe(true);
    // Make the target hold a newer version than what the source will send (as a delayed
    // batch of older rows would): the merge must keep it.
    await f.redshift(`UPDATE ${f.target.schema}.older SET v = 'newer', updated_at = '2999-01-01 00:00:00+00' WHERE id = 2`);
    await f.meta(`UPDATE tables SET max_primary_key = NULL, max_updated_key = NULL WHERE id = $1`, [tid]);
    expect((await f.sync({ table: 'older' })).tables[0]).toMatchObject({ ok: true, rows: 3 });
    expect((await f.redshift(`SELECT id, v FROM ${f.target.schema}.older ORDER BY id`)).rows).toEqual([
      { id: 1, v: 'v1' },
      { id: 2, v: 'newer' },
      { id: 3, v: 'v1' },
    ]);
  });

  it('a paused S3 becomes an error naming S3 within the deadline; the claim is released, the watermark kept, nothing left running', async () => {
    const tid = await table('paused', 2000, 'INSERT_ONLY');
    proxy.pause();
    const t0 = Date.now();
    let r;
    try {
      r = await f.sync({ table: 'paused', deps: { env: { ...f.env, S3_ENDPOINT: proxy.url, S3_REQUEST_TIMEOUT_SECONDS: 2, S3_MAX_ATTEMPTS: 2, CONNECT_TIMEOUT_SECONDS: 2 }, s3: createS3Client({ ...f.env, S3_ENDPOINT: proxy.url, S3_REQUEST_TIMEOUT_SECONDS: 2, S3_MAX_ATTEMPTS: 2, CONNECT_TIMEOUT_SECONDS: 2 }) } });
    } finally {
      proxy.resume();
    }
    expect(Date.now() - t0).toBeLessThan(40_000);
    expect(r.ok).toBe(false);
    expect(r.tables[0]!.error).toMatch(/^job "conc_job", table public\.paused: S3 could not list s3:\/\/[^ ]+\/redshift-loader-test\/conc_job\/public\.paused\/: .*requestTimeout/);
    expect((await f.meta(`SELECT max_primary_key, claimed_by FROM tables WHERE id = $1`, [tid])).rows[0]).toEqual({ max_primary_key: null, claimed_by: null });
    expect((await f.meta(`SELECT status FROM sync_runs WHERE table_id = $1`, [tid])).rows).toEqual([{ status: 'failed' }]);
    const idle = await f.source(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'redshift-loader extract' AND datname = current_database()`);
    expect(idle.rows[0].n).toBe(0);
    expect((await f.sync({ table: 'paused' })).ok).toBe(true);
    await clean('paused', tid);
  });

  it('S3 stalling mid-upload: the upload times out naming the file, the source sessions are released, the claim too', async () => {
    const tid = await table('stalled_upload', 3000, 'INSERT_ONLY');
    const quick = { ...f.env, S3_ENDPOINT: proxy.url, S3_REQUEST_TIMEOUT_SECONDS: 2, S3_MAX_ATTEMPTS: 2 };
    proxy.pauseUploads();
    let r;
    try {
      r = await f.sync({ table: 'stalled_upload', deps: { env: quick, s3: createS3Client(quick) } });
    } finally {
      proxy.resume();
    }
    expect(r.tables[0]!.error).toMatch(/^job "conc_job", table public\.stalled_upload: S3 upload of s3:\/\/[^ ]+\/batch-00001\/part-\d+\.csv\.zst failed: .*requestTimeout/);
    const sessions = await f.source(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'redshift-loader extract' AND datname = current_database()`);
    expect(sessions.rows[0].n).toBe(0);
    expect((await f.meta(`SELECT max_primary_key, claimed_by FROM tables WHERE id = $1`, [tid])).rows[0]).toEqual({ max_primary_key: null, claimed_by: null });
    expect((await f.sync({ table: 'stalled_upload' })).ok).toBe(true);
    await clean('stalled_upload', tid);
  });

  it('a batch past BATCH_TIMEOUT_SECONDS is stopped, and the error says what it waited for', async () => {
    const tid = await table('deadline', 2000, 'INSERT_ONLY');
    proxy.pauseUploads(); // the run's start (S3 listing) goes through; its uploads hang
    let r;
    try {
      const slowS3 = { ...f.env, S3_ENDPOINT: proxy.url, S3_REQUEST_TIMEOUT_SECONDS: 600 };
      r = await f.sync({ table: 'deadline', deps: { env: { ...slowS3, BATCH_TIMEOUT_SECONDS: 3 }, s3: createS3Client(slowS3) } });
    } finally {
      proxy.resume();
    }
    expect(r.tables[0]!.error).toMatch(
      /^job "conc_job", table public\.deadline: batch 1 did not finish within 3 s \(BATCH_TIMEOUT_SECONDS\) while extracting from the source and uploading to S3 \(s3:\/\/[^)]+\); its sessions were closed, nothing of it was committed and the watermark was kept$/,
    );
    expect((await f.meta(`SELECT claimed_by FROM tables WHERE id = $1`, [tid])).rows[0].claimed_by).toBeNull();
    expect((await f.sync({ table: 'deadline' })).ok).toBe(true);
    await clean('deadline', tid);
  });

  it('an admin deep copy of a synced target takes the loader\'s lock: it waits for a merge in progress and never interleaves with it', async () => {
    const tid = await table('rebuilt', 200, 'INSERT_AND_UPDATE');
    expect((await f.sync({ table: 'rebuilt' })).ok).toBe(true);
    await f.source(`UPDATE rebuilt SET v = 'v2', updated_at = now() WHERE id <= 50`);
    const order: string[] = [];
    const rs = new Redshift({ url: f.target.url, log: f.log });
    let copying: Promise<unknown> | null = null;
    try {
      const r = await f.sync({
        table: 'rebuilt',
        deps: {
          // Inside the merge transaction (the loader's lock held), start a deep copy of the target.
          beforeCommit: async () => {
            copying = rs.deepCopy(`${f.target.schema}.rebuilt`, { execute: true }).then(() => order.push('deep copy committed'));
            await new Promise((res) => setTimeout(res, 300));
            order.push('merge committing');
          },
        },
      });
      expect(r.ok, JSON.stringify(r)).toBe(true);
      await copying;
    } finally {
      await rs.close();
    }
    expect(order).toEqual(['merge committing', 'deep copy committed']);
    expect(f.logs.some((l) => l.msg === "admin: this table is a redshift-loader target; taking the loader's lock so no sync writes it meanwhile")).toBe(true);
    await clean('rebuilt', tid);
  });

  it('a deadlock in the merge (40P01) is retried like error 1023', async () => {
    const tid = await table('deadlocked', 100, 'INSERT_ONLY');
    let thrown = 0;
    const r = await f.sync({
      table: 'deadlocked',
      deps: {
        beforeCommit: () => {
          if (thrown++ === 0) throw Object.assign(new Error('deadlock detected'), { code: '40P01' });
        },
      },
    });
    expect(r.tables[0]).toMatchObject({ ok: true, rows: 100 });
    expect(f.logs.filter((l) => l.table === 'public.deadlocked' && l.msg === 'serializable isolation conflict (1023) or deadlock; retrying the transaction')).toHaveLength(1);
    await clean('deadlocked', tid);
  });

  it('what a killed run leaves (a running row, staging files, a swap table) is swept by the next run of the table', async () => {
    const tid = await table('debris', 1000);
    // A real kill -9 in the middle of a run ...
    proxy.pause();
    const victim = cli(['sync', '--job', f.jobName, '--table', 'debris'], env);
    await until('the run to start', async () => (await f.meta(`SELECT count(*)::int AS n FROM sync_runs WHERE table_id = $1 AND status = 'running'`, [tid])).rows[0].n === 1);
    victim.kill('SIGKILL');
    await victim.code;
    proxy.resume();
    // ... plus what an earlier killed run left in S3 and Redshift.
    const s3 = createS3Client(f.env);
    const dead = `redshift-loader-test/${f.jobName}/public.debris/run-999-dead00/batch-00001/`;
    await putText(s3, f.env.S3_BUCKET!, `${dead}part-00001.csv.zst`, 'x');
    await putText(s3, f.env.S3_BUCKET!, `${dead}manifest.json`, '{}');
    await f.redshift(`CREATE TABLE ${f.target.schema}.debris_rl_swap_999 (LIKE ${f.target.schema}.debris)`);
    // The killed run's claim expires, then the next run takes the table and sweeps.
    await f.meta(`UPDATE tables SET claim_expires_at = now() - interval '1 second' WHERE id = $1`, [tid]);
    const r = await f.sync({ table: 'debris' });
    expect(r.ok, JSON.stringify(r)).toBe(true);
    const runs = await f.meta(`SELECT status, error FROM sync_runs WHERE table_id = $1 ORDER BY id`, [tid]);
    expect(runs.rows.map((x) => x.status)).toEqual(['abandoned', 'succeeded']);
    expect(runs.rows[0].error).toMatch(/^abandoned: run by sync@.*, found still running by .* when it took the table/);
    expect(f.logs.some((l) => l.table === 'public.debris' && l.msg === 'removed what crashed runs of this table left (swap tables, staging files)')).toBe(true);
    await clean('debris', tid);
    s3.destroy();
  }, 60_000);
});
