/**
 * `npm run bench`: builds its data in the local stack and prints, in one run:
 *   1. throughput of extract -> compress -> S3 vs the physical limit (COPY TO STDOUT drained)
 *      and vs the classic shell pipelines (psql \copy | gzip -1, | zstd -1), per format and level;
 *   2. peak RSS of a `redshift-loader sync` process for 200k and 2M rows;
 *   3. time to sync 1,000 changed rows from a 50k-row and from a 5M-row table;
 *   4. CPU of an idle worker with 1,000 scheduled tables over 60 s;
 *   5. what checking batches for values Redshift cannot hold costs a sync (value-rules.ts);
 *   6. verify of the 2M-row table: clean, and with 100 scattered differences, each next to a
 *      COPY TO STDOUT scan of the source in the same round (issue 17).
 *   7. copy_mode CDC: a backlog of BENCH_CDC_CHANGES (default 1000000) updates over 3 tables
 *      drained by one `sync` (changes/s end to end, peak RSS, Redshift commits), the idle CPU
 *      of a worker whose CDC job has nothing to do, and the source-commit-to-visible lag at
 *      a 10 s frequency (BENCH_CDC_LAG_SECONDS, default 60).
 * BENCH_ROWS (default 2000000), BENCH_ONLY=1,2,3,4,5,6,7, BENCH_ROUNDS and BENCH_IDLE_SECONDS tune it.
 * Results go to stdout as a table; BENCHMARKS.md records them.
 */
import { execSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { loadEnv } from '../src/config/env.js';
import { migrate } from '../src/db/migrate.js';
import { createS3Client, deletePrefix } from '../src/s3/client.js';
import { copyOut } from '../src/extract/copy-out.js';
import { compressionFromEnv, type Compression } from '../src/extract/compress.js';
import { extractFilesToS3, extractToS3, type FileSink } from '../src/extract/extract.js';
import { CSV_NULL, copyToStdoutSql } from '../src/redshift/csv.js';
import { extractKeyedBatch } from '../src/sync/engine.js';
import { BatchKeyScan } from '../src/sync/batch-scan.js';
import { SnapshotSessions } from '../src/sync/snapshot.js';
import { SET_WATERMARK_SQL, planBatch, planTable } from '../src/sync/plan.js';
import { sourceColumns } from '../src/schema/catalog.js';
import { startStack } from '../src/stack/stack.js';
import { syncJob } from '../src/sync/engine.js';
import { createLogger } from '../src/log.js';
import { verifyJob } from '../src/verify/run.js';
import { planVerify, verifyColumnsOf } from '../src/verify/plan.js';
import { summarySql } from '../src/verify/sql.js';
import { splitSpan } from '../src/verify/compare.js';
import { readTargetColumns, sourceColumnsForDrift } from '../src/schema/drift.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 2_000_000);
const ONLY = new Set((process.env.BENCH_ONLY ?? '1,2,3,4,5,6,7').split(',').map(Number));
const CDC_CHANGES = Number(process.env.BENCH_CDC_CHANGES ?? 1_000_000);
const CDC_LAG_SECONDS = Number(process.env.BENCH_CDC_LAG_SECONDS ?? 60);
// BENCH_ROUNDS: paired rounds per row of section 1 (default 3; the headline row gets 2 more).
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 60);
const MiB = 1024 * 1024;
const CLI = path.resolve(import.meta.dirname, '../src/cli/index.ts');
const out: string[] = [];
const say = (s: string) => {
  out.push(s);
  process.stdout.write(`${s}\n`);
};
const fmt = (n: number, d = 1) => n.toFixed(d);

const COLUMNS = 'id, created_at, updated_at, note, amount, meta';
const SELECT = `SELECT ${COLUMNS} FROM bench`;

async function makeTable(c: pg.Client, name: string, rows: number): Promise<void> {
  await c.query(`DROP TABLE IF EXISTS ${name}`);
  await c.query(`CREATE TABLE ${name} (
    id bigint PRIMARY KEY, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,
    note text NOT NULL, amount numeric(12,2), meta jsonb)`);
  // ~60-char text, numeric, small json: about 150 bytes of CSV a row.
  await c.query(`INSERT INTO ${name}
    SELECT g, '2024-01-01'::timestamptz + g * interval '1 second', '2024-01-01'::timestamptz + g * interval '1 second',
           substr(md5(g::text) || md5((g * 7)::text), 1, 40 + g % 40), (g % 100000) / 100.0,
           jsonb_build_object('k', g % 10, 'tag', 'v' || (g % 100))
    FROM generate_series(1, ${rows}) g`);
  await c.query(`CREATE INDEX ON ${name} (updated_at, id)`);
  await c.query(`VACUUM ANALYZE ${name}`);
  // Write the new table's pages out now, so no checkpoint runs during the first measurements.
  await c.query('CHECKPOINT');
}

/** A sink that drops the gzip bytes: measures extract + compress without the S3 server. */
const discardSink = (_key: string, body: Readable): FileSink => ({
  done: pipeline(body, new Writable({ write: (_c, _e, cb) => cb() })),
  abort: async () => undefined,
});

async function drain(c: pg.Client, sql: string, reader: (sql: string) => Readable = copyOut): Promise<number> {
  let bytes = 0;
  await pipeline(c.query(reader(sql) as never) as Readable, new Writable({ write: (chunk: Buffer, _e, cb) => ((bytes += chunk.length), cb()) }));
  return bytes;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ r: T; s: number }> {
  const t = process.hrtime.bigint();
  const r = await fn();
  return { r, s: Number(process.hrtime.bigint() - t) / 1e9 };
}

function hasCommand(cmd: string): boolean {
  try {
    execSync(`command -v ${cmd}`, { stdio: 'ignore', shell: '/bin/bash' });
    return true;
  } catch {
    return false;
  }
}

/** Runs the CLI in a child process, sampling its peak RSS (VmHWM) and CPU time. */
/** samples: [seconds since start, CPU seconds, RSS MiB] every 50 ms (every second with untilMs). */
function runCli(args: string[], env: Record<string, string>, opts: { untilMs?: number } = {}): Promise<{ code: number | null; peakMiB: number; cpuSeconds: number; seconds: number; output: string; samples: Array<[number, number, number]> }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { env: { ...process.env, ...env, LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    let peak = 0;
    let cpu = 0;
    const samples: Array<[number, number, number]> = [];
    const tck = Number(execSync('getconf CLK_TCK').toString().trim()) || 100;
    const sample = () => {
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        const m = status.match(/VmHWM:\s+(\d+) kB/);
        if (m) peak = Math.max(peak, Number(m[1]) / 1024);
        const rss = Number(status.match(/VmRSS:\s+(\d+) kB/)?.[1] ?? 0) / 1024;
        const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
        cpu = (Number(stat[11]) + Number(stat[12])) / tck;
        samples.push([(Date.now() - t0) / 1000, cpu, rss]);
      } catch {
        /* exited */
      }
    };
    const timer = setInterval(sample, opts.untilMs ? 1000 : 50);
    let stopTimer: NodeJS.Timeout | undefined;
    if (opts.untilMs) stopTimer = setTimeout(() => (sample(), child.kill('SIGTERM')), opts.untilMs);
    child.on('exit', (code) => {
      clearInterval(timer);
      if (stopTimer) clearTimeout(stopTimer);
      resolve({ code, peakMiB: peak, cpuSeconds: cpu, seconds: (Date.now() - t0) / 1000, output, samples });
    });
  });
}

async function main() {
  say(`# redshift-loader benchmarks: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), ${fmt(os.totalmem() / 1024 ** 3, 0)} GiB, Node ${process.version}, ${ROWS} rows`);
  const stack = await startStack({});
  const stop = async () => stack.stop();
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    const env = loadEnv({ ...stack.env });
    await migrate(stack.env.DATABASE_URL);
    const src = new pg.Client({ connectionString: stack.env.SOURCE_URL });
    await src.connect();
    await src.query(`SET timezone TO 'UTC'`);
    const s3 = createS3Client(env);

    if (ONLY.has(1)) {
      say(`\n## 1. Throughput: extract -> compress -> S3, ${ROWS} rows, each row next to the limit measured in the same round`);
      const b = await timed(() => makeTable(src, 'bench', ROWS));
      say(`(built the table in ${fmt(b.s)} s)`);
      const copySql = copyToStdoutSql(SELECT);
      await drain(src, copySql); // warm the cache
      // Paired rounds: each round drains the COPY (the limit: the faster of our reader and
      // pg-copy-streams, that round) right before the pipeline, and the ratio is taken per
      // round. The machine's speed drifts between rows by more than the effects measured;
      // within a round it does not have time to.
      const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
      let rawBytes = 0;
      const drains = { ours: [] as number[], pgcs: [] as number[] };
      const limitNow = async () => {
        const a = await timed(async () => (rawBytes = await drain(src, copySql)));
        const b = await timed(() => drain(src, copySql, copyTo));
        drains.ours.push(a.s);
        drains.pgcs.push(b.s);
        return Math.min(a.s, b.s);
      };
      const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
      const paired = async (fn: () => Promise<unknown>, rounds = ROUNDS) => {
        const secs: number[] = [];
        const ratios: number[] = [];
        for (let i = 0; i < rounds; i++) {
          const limit = await limitNow();
          const t = (await timed(fn)).s;
          secs.push(t);
          ratios.push(limit / t);
        }
        return { sec: med(secs), ratio: med(ratios), lo: Math.min(...ratios), hi: Math.max(...ratios) };
      };
      await limitNow();
      const rawMiB = () => rawBytes / MiB;
      const row = (label: string, r: { sec: number; ratio: number; lo: number; hi: number }, packed = '') =>
        say(`| ${label} | ${fmt(r.sec, 2)} | ${fmt(rawMiB() / r.sec)} | **${fmt(r.ratio, 2)}** (${fmt(r.lo, 2)}-${fmt(r.hi, 2)}) | ${packed} |`);
      say(`| pipeline (${fmt(rawMiB())} MiB of CSV) | seconds (median) | MiB/s | ratio to the limit: median of ${ROUNDS} paired rounds (min-max) | compressed MiB |`);
      say(`|---|---|---|---|---|`);
      const shell = new Map<string, Awaited<ReturnType<typeof paired>> | null>();
      for (const compressor of ['gzip', 'zstd']) {
        shell.set(
          compressor,
          hasCommand('psql') && hasCommand(compressor)
            ? await paired(async () => {
                execSync(`psql "${stack.env.SOURCE_URL}" -qAt -c "\\copy (${SELECT}) TO STDOUT WITH (FORMAT csv, NULL '${CSV_NULL}', FORCE_QUOTE *)" | ${compressor} -1 > /dev/null`, { shell: '/bin/bash', stdio: 'ignore' });
              })
            : null,
        );
      }
      // The engine's own path for a keyed batch: the key scan, then one COPY per file.
      const plan = planTable(
        { id: 0, jobId: 0, sourceSchema: 'public', sourceName: 'bench', destinationSchema: null, destinationName: null, copyMode: 'INSERT_ONLY', primaryKey: 'id', updatedKey: null, disabled: false, maxPrimaryKey: null,
      maxPrimaryKeyJson: null, maxUpdatedKey: null, rowLimit: ROWS, chunkSize: 25_000 },
        await sourceColumns(src, 'public', 'bench'),
        { rowLimit: ROWS, chunkSize: 25_000, destinationSchema: 'public' },
        'bench',
      );
      const from = { updatedKey: null, primaryKey: null };
      const ours = async (compression: Compression, target: 'discard' | 's3', sessions: number, rounds = ROUNDS) => {
        let r: Awaited<ReturnType<typeof extractFilesToS3>> | undefined;
        const prefix = `bench/${compression.format}-${target}-${Date.now()}`;
        const snapshots = new SnapshotSessions(stack.env.SOURCE_URL, sessions - 1);
        const p = await paired(async () => {
          // The engine's own keyed-batch extract: the key scan hands out files while the
          // joined sessions copy them (extractKeyedBatch), in one REPEATABLE READ snapshot.
          await src.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
          try {
            await src.query(SET_WATERMARK_SQL, [planBatch(plan, from).settings, '[]']);
            const scan = new BatchKeyScan(src, plan, from, env.REDSHIFT_SLICES);
            if (!(await scan.first())) throw new Error('batch keys: the batch is empty');
            const k = await extractKeyedBatch({
              client: src, s3, bucket: env.S3_BUCKET!, keyPrefix: prefix, compression,
              sink: target === 'discard' ? discardSink : undefined,
              scan, plan, snapshots,
            });
            if (k.rows !== ROWS || k.extracted.rows !== ROWS) throw new Error(`batch: ${k.rows} rows, ${k.extracted.rows} extracted, expected ${ROWS}`);
            if (snapshots.disabledReason) throw new Error(`snapshot sessions: ${snapshots.disabledReason}`);
            r = k.extracted;
          } finally {
            await src.query('COMMIT');
          }
          if (target === 's3') await deletePrefix(s3, env.S3_BUCKET!, `${prefix}/`);
        }, rounds);
        await snapshots.close();
        const packed = r!.files.reduce((a, f) => a + f.bytes, 0) / MiB;
        const how = compression.format === 'zstd' ? `zstd ${compression.level}` : `gzip ${compression.level}, window ${compression.windowBits} bits`;
        const where = target === 'discard' ? 'compressed bytes discarded' : 'multipart upload to the S3 server (s3rver, same 2 cores)';
        const isDefault = JSON.stringify(compression) === JSON.stringify(compressionFromEnv(env)) && sessions === env.EXTRACT_SESSIONS;
        const label = `${isDefault ? '**' : ''}ours, ${sessions} session(s), ${how}, ${where} (${r!.files.length} files)${isDefault ? ', the defaults**' : ''}`;
        row(label, p, fmt(packed));
      };
      const gzip = (level: number): Compression => ({ format: 'gzip', level, windowBits: env.GZIP_WINDOW_BITS });
      const zstd = (level: number): Compression => ({ format: 'zstd', level });
      // The headline first: the defaults, all the way to the S3 server, more rounds.
      await ours(compressionFromEnv(env), 's3', env.EXTRACT_SESSIONS, ROUNDS + 2);
      await ours(gzip(1), 's3', 2);
      await ours(zstd(1), 's3', 1);
      // Extract + compress alone, per format and level, on 1 or 2 sessions (EXTRACT_SESSIONS).
      for (const c of [gzip(1), zstd(-3), zstd(1), zstd(3)]) await ours(c, 'discard', 2);
      await ours(zstd(1), 'discard', 1);
      // Tables without a key: one COPY cut into files by scanning the CSV in JavaScript.
      {
        let r: Awaited<ReturnType<typeof extractToS3>> | undefined;
        const p = await paired(async () => {
          await src.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
          try {
            r = await extractToS3({ client: src, s3, bucket: env.S3_BUCKET!, keyPrefix: 'bench/scan', compression: compressionFromEnv(env), sink: discardSink, copySql, rowsPerFile: 25_000 });
          } finally {
            await src.query('COMMIT');
          }
        });
        row(`tables without a key: one COPY cut by a JS record scan, ${env.COMPRESSION}, discarded (${r!.files.length} files)`, p);
      }
      for (const [compressor, r] of shell) {
        if (r) row(`shell: psql \\copy ... \\| ${compressor} -1 > /dev/null`, r);
        else say(`| shell: psql \\copy \\| ${compressor} -1 | skipped: psql or ${compressor} not installed | | | |`);
      }
      const limitS = Math.min(med(drains.ours), med(drains.pgcs));
      say(`| the limit: COPY TO STDOUT drained to nothing, our reader / pg-copy-streams (median of ${drains.ours.length} drains each) | ${fmt(med(drains.ours), 2)} / ${fmt(med(drains.pgcs), 2)} | ${fmt(rawMiB() / limitS)} | 1.00 | |`);
    }

    if (ONLY.has(2)) {
      say(`\n## 2. Memory: peak RSS of \`redshift-loader sync\` (INSERT_ONLY, whole table, row limit 100000)`);
      say(`| rows | seconds | peak RSS MiB | highest RSS in the first / second half of the run, MiB | exit |`);
      say(`|---|---|---|---|---|`);
      const rs = new pg.Client({ connectionString: stack.env.REDSHIFT_URL });
      await rs.connect();
      const meta = new pg.Client({ connectionString: stack.env.DATABASE_URL });
      await meta.connect();
      // As the Procfile and the Dockerfile run the worker (MALLOC_ARENA_MAX=2), and with
      // glibc's default arenas; then the same with COMPRESSION=gzip.
      const runs: Array<[number, Record<string, string>, string]> = [
        [200_000, { MALLOC_ARENA_MAX: '2' }, 'MALLOC_ARENA_MAX=2'],
        [ROWS, { MALLOC_ARENA_MAX: '2' }, 'MALLOC_ARENA_MAX=2'],
        [200_000, {}, 'glibc default arenas'],
        [ROWS, {}, 'glibc default arenas'],
        [ROWS, { MALLOC_ARENA_MAX: '2', COMPRESSION: 'gzip' }, 'MALLOC_ARENA_MAX=2, COMPRESSION=gzip'],
      ];
      for (const [i, [n, extraEnv, how]] of runs.entries()) {
        const t = `mem_${n}`;
        const jobName = `mem_${i}_${n}`; // a fresh job and tables row (watermark) per run
        await makeTable(src, t, n);
        await rs.query(`DROP TABLE IF EXISTS ${t}`);
        await rs.query(`CREATE TABLE ${t} (id BIGINT NOT NULL, created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ, note VARCHAR(320), amount NUMERIC(12,2), meta SUPER) DISTKEY(id) SORTKEY(id)`);
        const job = await meta.query(`INSERT INTO jobs (name, source_connection_string, destination_connection_string) VALUES ($1, 'env:SOURCE_URL', 'env:REDSHIFT_URL') RETURNING id`, [jobName]);
        await meta.query(`INSERT INTO tables (job_id, source_name, copy_mode, primary_key) VALUES ($1, $2, 'INSERT_ONLY', 'id')`, [job.rows[0].id, t]);
        const r = await runCli(['sync', '--job', jobName], { ...stack.env, ...extraEnv });
        const half = r.seconds / 2;
        const top = (xs: Array<[number, number, number]>) => Math.max(0, ...xs.map(([, , rss]) => rss));
        const halves = `${fmt(top(r.samples.filter(([t]) => t < half)), 0)} / ${fmt(top(r.samples.filter(([t]) => t >= half)), 0)}`;
        say(`| ${n} (${how}) | ${fmt(r.seconds)} | ${fmt(r.peakMiB, 0)} | ${halves} | ${r.code} |`);
        if (r.code !== 0) say('```\n' + r.output.slice(-2000) + '\n```');
        const loaded = Number((await rs.query(`SELECT count(*) AS n FROM ${t}`)).rows[0].n);
        if (loaded !== n) say(`(that run loaded ${loaded} rows, not ${n})`);
        await src.query(`DROP TABLE ${t}`);
        await rs.query(`DROP TABLE ${t}`);
      }
      await rs.end();
      await meta.end();
    }

    if (ONLY.has(3)) {
      say(`\n## 3. Incremental cost: sync 1,000 changed rows (INSERT_AND_UPDATE, index on (updated_at, id))`);
      say(`| table rows | seconds (median of 3) | ratio to 50k |`);
      say(`|---|---|---|`);
      const rs = new pg.Client({ connectionString: stack.env.REDSHIFT_URL });
      await rs.connect();
      const meta = new pg.Client({ connectionString: stack.env.DATABASE_URL });
      await meta.connect();
      let base = 0;
      for (const n of [50_000, 5_000_000]) {
        const t = `inc_${n}`;
        await makeTable(src, t, n);
        await rs.query(`DROP TABLE IF EXISTS ${t}`);
        await rs.query(`CREATE TABLE ${t} (id BIGINT NOT NULL, created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ, note VARCHAR(320), amount NUMERIC(12,2), meta SUPER) DISTKEY(id) SORTKEY(updated_at, id)`);
        const job = await meta.query(`INSERT INTO jobs (name, source_connection_string, destination_connection_string) VALUES ($1, 'env:SOURCE_URL', 'env:REDSHIFT_URL') RETURNING id`, [`inc_${n}`]);
        // Start from "caught up" without loading n rows into the double: the watermark is the table's last key.
        const last = await src.query(`SELECT updated_at::text AS u, id::text AS id FROM ${t} ORDER BY updated_at DESC, id DESC LIMIT 1`);
        await meta.query(
          `INSERT INTO tables (job_id, source_name, copy_mode, primary_key, updated_key, max_updated_key, max_primary_key) VALUES ($1, $2, 'INSERT_AND_UPDATE', 'id', 'updated_at', $3, $4)`,
          [job.rows[0].id, t, last.rows[0].u, JSON.stringify([last.rows[0].id])],
        );
        const times: number[] = [];
        for (let i = 0; i < 3; i++) {
          await src.query(`UPDATE ${t} SET updated_at = now(), amount = amount + 1 WHERE id IN (SELECT (1 + (g * 7919) % ${n}) FROM generate_series(1, 1000) g)`);
          const r = await runCli(['sync', '--job', `inc_${n}`], { ...stack.env, UPDATED_KEY_OVERLAP_SECONDS: '0' });
          if (r.code !== 0) say('```\n' + r.output.slice(-2000) + '\n```');
          times.push(r.seconds);
        }
        times.sort((a, b) => a - b);
        const med = times[1]!;
        if (n === 50_000) base = med;
        say(`| ${n} | ${fmt(med, 2)} | ${fmt(med / base, 2)} |`);
        await src.query(`DROP TABLE ${t}`);
      }
      await rs.end();
      await meta.end();
    }

    if (ONLY.has(4)) {
      say(`\n## 4. Scheduler idle cost: a worker with 1,000 scheduled tables, nothing due, ${IDLE_SECONDS} s`);
      const meta = new pg.Client({ connectionString: stack.env.DATABASE_URL });
      await meta.connect();
      await meta.query(`INSERT INTO jobs (name, source_connection_string, destination_connection_string) SELECT 'idle_' || g, 'env:SOURCE_URL', 'env:REDSHIFT_URL' FROM generate_series(1, 1000) g`);
      await meta.query(`INSERT INTO tables (job_id, source_name, copy_mode, primary_key) SELECT id, 't', 'INSERT_ONLY', 'id' FROM jobs WHERE name LIKE 'idle_%'`);
      await meta.query(`INSERT INTO schedule_events (job_id, frequency, last_run_at, last_succeeded_at) SELECT id, 86400, now(), now() FROM jobs WHERE name LIKE 'idle_%'`);
      await meta.end();
      const r = await runCli(['worker', '--no-migrate'], { ...stack.env, WORKER_TICK_SECONDS: '5', SYNC_DB_EVENTS_FREQUENCY: '60' }, { untilMs: IDLE_SECONDS * 1000 });
      // Steady state: from 10 s after start (start-up compiles TypeScript) to the last sample.
      const from = r.samples.find(([t]) => t >= 10) ?? r.samples[0]!;
      const to = r.samples[r.samples.length - 1]!;
      const idlePct = (100 * (to[1] - from[1])) / Math.max(0.001, to[0] - from[0]);
      say(`| window | seconds | CPU seconds | CPU % of one core |`);
      say(`|---|---|---|---|`);
      say(`| whole run, including start-up | ${fmt(r.seconds)} | ${fmt(r.cpuSeconds, 2)} | ${fmt((100 * r.cpuSeconds) / r.seconds, 2)} |`);
      say(`| idle, after the first 10 s | ${fmt(to[0] - from[0])} | ${fmt(to[1] - from[1], 2)} | ${fmt(idlePct, 2)} |`);
      say(`(peak RSS ${fmt(r.peakMiB, 0)} MiB, exit ${r.code})`);
    }
    if (ONLY.has(5)) {
      // The same rows synced three ways, side by side in rounds: a declared numeric(20,10)
      // the target keeps (nothing to check), an unbounded numeric into NUMERIC(38,10) (each
      // batch is scanned once more for decimals COPY would cut), and the same with
      // value_policies {"numeric_digits": "round"} (the extract rounds and the scan counts).
      const n = Math.round(ROWS / 4);
      say(`\n## 5. Value checks: a sync of ${n} rows (INSERT_ONLY, row limit 100000) with and without the batch check`);
      const rs = new pg.Client({ connectionString: stack.env.REDSHIFT_URL });
      await rs.connect();
      const meta = new pg.Client({ connectionString: stack.env.DATABASE_URL });
      await meta.connect();
      const kinds: Array<[string, string, string | null, string]> = [
        ['vc_plain', 'numeric(20,10)', null, 'numeric(20,10) into NUMERIC(38,10): no check'],
        ['vc_check', 'numeric', null, 'numeric into NUMERIC(38,10): each batch checked'],
        ['vc_round', 'numeric', '{"numeric_digits": "round"}', 'numeric into NUMERIC(38,10), policy round: rounded and counted'],
      ];
      for (const [t, type, policies] of kinds) {
        await src.query(`DROP TABLE IF EXISTS ${t}`);
        await src.query(`CREATE TABLE ${t} (id bigint PRIMARY KEY, note text NOT NULL, amount ${type})`);
        await src.query(`INSERT INTO ${t} SELECT g, md5(g::text), round((g % 100000) / 7.0, 10) FROM generate_series(1, ${n}) g`);
        await src.query(`VACUUM ANALYZE ${t}`);
        await rs.query(`DROP TABLE IF EXISTS ${t}`);
        await rs.query(`CREATE TABLE ${t} (id BIGINT NOT NULL, note VARCHAR(64), amount NUMERIC(38,10)) DISTKEY(id) SORTKEY(id)`);
        const job = await meta.query(`INSERT INTO jobs (name, source_connection_string, destination_connection_string) VALUES ($1, 'env:SOURCE_URL', 'env:REDSHIFT_URL') RETURNING id`, [t]);
        await meta.query(`INSERT INTO tables (job_id, source_name, copy_mode, primary_key, row_limit, value_policies) VALUES ($1, $2, 'INSERT_ONLY', 'id', 100000, $3::jsonb)`, [job.rows[0].id, t, policies]);
      }
      const secs = new Map<string, number[]>(kinds.map(([t]) => [t, []]));
      for (let round = 0; round < 3; round++) {
        for (const [t] of kinds) {
          await rs.query(`TRUNCATE ${t}`);
          await meta.query(`UPDATE tables SET max_primary_key = NULL WHERE source_name = $1`, [t]);
          const r = await runCli(['sync', '--job', t], { ...stack.env });
          if (r.code !== 0) say('```\n' + r.output.slice(-2000) + '\n```');
          secs.get(t)!.push(r.seconds);
        }
      }
      const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
      const base = med(secs.get('vc_plain')!);
      say(`| source column -> target | seconds (median of 3, interleaved) | ratio to no check |`);
      say(`|---|---|---|`);
      for (const [t, , , label] of kinds) say(`| ${label} | ${fmt(med(secs.get(t)!), 2)} | ${fmt(med(secs.get(t)!) / base, 2)} |`);
      for (const [t] of kinds) {
        await src.query(`DROP TABLE ${t}`);
        await rs.query(`DROP TABLE ${t}`);
      }
      await rs.end();
      await meta.end();
    }
    if (ONLY.has(6)) await benchVerify({ ...stack.env }, env, src);
    if (ONLY.has(7)) await cdcBench({ ...stack.env }, src);
    await src.end();
    s3.destroy();
  } finally {
    await stop();
  }
}

/** Section 7: copy_mode CDC (src/sync/cdc) against the double. */
async function cdcBench(stackEnv: Record<string, string>, src: pg.Client): Promise<void> {
  const per = Math.ceil(CDC_CHANGES / 3);
  say(`\n## 7. copy_mode CDC: ${3 * per} updates over 3 tables, against the Redshift double`);
  const rs = new pg.Client({ connectionString: stackEnv.REDSHIFT_URL });
  await rs.connect();
  const meta = new pg.Client({ connectionString: stackEnv.DATABASE_URL });
  await meta.connect();
  const tables = ['cdc_a', 'cdc_b', 'cdc_c'];
  for (const t of tables) {
    await src.query(`DROP TABLE IF EXISTS ${t}`);
    await src.query(`CREATE TABLE ${t} (id bigint PRIMARY KEY, note text NOT NULL, amount numeric(12,2), updated_at timestamptz NOT NULL DEFAULT now())`);
    await src.query(`INSERT INTO ${t} SELECT g, substr(md5(g::text), 1, 20 + g % 20), (g % 100000) / 100.0, now() FROM generate_series(1, ${per}) g`);
    await rs.query(`DROP TABLE IF EXISTS ${t}`);
    await rs.query(`CREATE TABLE ${t} (id BIGINT NOT NULL, note VARCHAR(160) NOT NULL, amount NUMERIC(12,2), updated_at TIMESTAMPTZ NOT NULL) DISTKEY(id) SORTKEY(id)`);
  }
  const job = await meta.query(`INSERT INTO jobs (name, source_connection_string, destination_connection_string) VALUES ('cdc_bench', 'env:SOURCE_URL', 'env:REDSHIFT_URL') RETURNING id`);
  const jobId = job.rows[0].id as number;
  for (const t of tables) await meta.query(`INSERT INTO tables (job_id, source_name, copy_mode, primary_key) VALUES ($1, $2, 'CDC', 'id')`, [jobId, t]);
  const env = { ...stackEnv, MALLOC_ARENA_MAX: '2' };
  const first = await runCli(['sync', '--job', 'cdc_bench'], env);
  say(`(slot created and ${3 * per} rows loaded in its snapshot in ${fmt(first.seconds)} s, exit ${first.code})`);
  // The backlog: every row of every table updated once, 10,000 rows per source transaction.
  const tw = Date.now();
  for (const t of tables) {
    for (let lo = 1; lo <= per; lo += 10_000) await src.query(`UPDATE ${t} SET amount = amount + 1, updated_at = now() WHERE id >= ${lo} AND id < ${lo + 10_000}`);
  }
  const slotBytes = await src.query(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint AS b FROM pg_replication_slots WHERE slot_name = 'rl_cdc_bench'`);
  say(`(backlog written in ${fmt((Date.now() - tw) / 1000)} s: ${fmt(Number(slotBytes.rows[0]?.b ?? 0) / MiB, 0)} MiB of WAL behind the slot)`);
  const r = await runCli(['sync', '--job', 'cdc_bench'], env);
  const caught = r.output.split('\n').filter((l) => l.includes('CDC run caught up')).map((l) => JSON.parse(l) as { changes: number; redshiftCommits: number });
  const applied = caught.reduce((n, c) => n + c.changes, 0);
  const commits = caught.reduce((n, c) => n + c.redshiftCommits, 0);
  say(`| measure | value | goal |`);
  say(`|---|---|---|`);
  say(`| backlog drained by one \`sync\` (CDC_BATCH_ROWS ${loadEnv({}).CDC_BATCH_ROWS}) | ${applied} changes in ${fmt(r.seconds)} s = **${fmt(applied / r.seconds, 0)} changes/s** end to end (exit ${r.code}) | |`);
  say(`| peak RSS while draining it | **${fmt(r.peakMiB, 0)} MiB** | < 250 MiB |`);
  say(`| Redshift commits of that run | ${commits} (one per drained batch of ${loadEnv({}).CDC_BATCH_ROWS} changes) | |`);
  if (r.code !== 0) say('```\n' + r.output.slice(-2000) + '\n```');
  if (process.env.BENCH_CDC_VERBOSE) say(r.output.split('\n').filter((l) => l.includes('CDC batch applied')).map((l) => { const x = JSON.parse(l); return `batch ${x.batch}: ${x.changes} changes, ${x.seconds} s, rss ${x.rssMiB} MiB`; }).join('\n'));
  for (const t of tables) {
    const a = await src.query(`SELECT count(*)::int AS n, sum(amount)::text AS s FROM ${t}`);
    const b = await rs.query(`SELECT count(*)::int AS n, sum(amount)::text AS s FROM ${t}`);
    if (a.rows[0].n !== b.rows[0].n || Number(a.rows[0].s) !== Number(b.rows[0].s)) say(`(${t}: target ${JSON.stringify(b.rows[0])} differs from source ${JSON.stringify(a.rows[0])})`);
  }

  if (process.env.BENCH_CDC_WORKER === '0') {
    await runCli(['cdc', 'drop', '--job', 'cdc_bench'], env);
    await rs.end();
    await meta.end();
    return;
  }
  // The worker, the job every 10 s: idle CPU with nothing to do, then commit-to-visible lag.
  await meta.query(`INSERT INTO schedule_events (job_id, frequency) VALUES ($1, 10)`, [jobId]);
  const idle = await runCli(['worker', '--no-migrate'], { ...env, WORKER_TICK_SECONDS: '1' }, { untilMs: IDLE_SECONDS * 1000 });
  const from = idle.samples.find(([t]) => t >= 10) ?? idle.samples[0]!;
  const to = idle.samples[idle.samples.length - 1]!;
  const idleRuns = idle.output.split('\n').filter((l) => l.includes('CDC run caught up')).length;
  say(`| idle CPU of a worker whose CDC job (every 10 s, WORKER_TICK_SECONDS 1) has nothing to do, after the first 10 s | **${fmt((100 * (to[1] - from[1])) / Math.max(0.001, to[0] - from[0]), 2)} %** of one core over ${fmt(to[0] - from[0])} s (${idleRuns} runs) | < 1 % |`);

  // Lag: one row a second committed at the source; the time until it is visible in Redshift.
  const worker = spawn(process.execPath, ['--import', 'tsx', CLI, 'worker', '--no-migrate'], { env: { ...process.env, ...env, WORKER_TICK_SECONDS: '1', LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'ignore'] });
  let wout = '';
  worker.stdout.on('data', (d: Buffer) => (wout += d.toString()));
  const committed = new Map<number, number>();
  const visible = new Map<number, number>();
  const end = Date.now() + CDC_LAG_SECONDS * 1000;
  let next = 10_000_000;
  let lastWrite = 0;
  while (Date.now() < end || visible.size < committed.size) {
    if (Date.now() < end && Date.now() - lastWrite >= 1000) {
      lastWrite = Date.now();
      await src.query(`INSERT INTO cdc_a (id, note) VALUES ($1, 'lag')`, [next]);
      committed.set(next++, Date.now());
    }
    const seen = await rs.query(`SELECT id FROM cdc_a WHERE id >= 10000000`);
    for (const x of seen.rows) if (!visible.has(Number(x.id))) visible.set(Number(x.id), Date.now());
    if (Date.now() > end + 60_000) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  worker.kill('SIGTERM');
  await new Promise((res) => worker.once('exit', res));
  const lags = [...committed].filter(([id]) => visible.has(id)).map(([id, t]) => (visible.get(id)! - t) / 1000).sort((a, b) => a - b);
  const pct = (p: number) => lags[Math.min(lags.length - 1, Math.floor((p / 100) * lags.length))] ?? NaN;
  const runCommits = wout.split('\n').filter((l) => l.includes('CDC run caught up')).map((l) => (JSON.parse(l) as { redshiftCommits: number }).redshiftCommits);
  say(`| source commit to visible in Redshift, job every 10 s, one row a second for ${CDC_LAG_SECONDS} s | p50 ${fmt(pct(50))} s, **p95 ${fmt(pct(95))} s**, max ${fmt(lags[lags.length - 1] ?? NaN)} s (${lags.length}/${committed.size} rows seen) | p95 < 15 s |`);
  say(`| Redshift commits per run while rows keep arriving | ${runCommits.length ? `${Math.min(...runCommits)}-${Math.max(...runCommits)} (${runCommits.length} runs)` : 'no runs'} | 1 |`);
  await meta.query(`DELETE FROM schedule_events WHERE job_id = $1`, [jobId]);
  await runCli(['cdc', 'drop', '--job', 'cdc_bench'], env);
  await rs.end();
  await meta.end();
}

/**
 * Section 6 (numbered after main's section 5): `verify` of the benchmark table (synced into the double by the loader itself),
 * in paired rounds next to one COPY TO STDOUT drain of the source; then with 100 scattered
 * differences in the target. Also the first level's source queries alone (what the source
 * database pays; in production Redshift computes its side on its own nodes) and the double's.
 */
async function benchVerify(stackEnv: Record<string, string>, env: ReturnType<typeof loadEnv>, src: pg.Client): Promise<void> {
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  say(`\n## 6. verify: ${ROWS} rows, nothing different, then 100 scattered differences (paired rounds: a COPY drain, then verify)`);
  const log = createLogger({ level: 'silent', pretty: false });
  const meta = new pg.Client({ connectionString: stackEnv.DATABASE_URL });
  await meta.connect();
  const rs = new pg.Client({ connectionString: stackEnv.REDSHIFT_URL });
  await rs.connect();
  await makeTable(src, 'vbench', ROWS);
  await rs.query(`DROP TABLE IF EXISTS vbench`);
  // The mapping setup gives the benchmark table's columns (text into VARCHAR(65535), jsonb into SUPER).
  await rs.query(`CREATE TABLE vbench (id BIGINT NOT NULL, created_at TIMESTAMPTZ NOT NULL, updated_at TIMESTAMPTZ NOT NULL, note VARCHAR(65535) NOT NULL, amount NUMERIC(12,2), meta SUPER) DISTKEY(id) SORTKEY(id)`);
  const job = await meta.query(`INSERT INTO jobs (name, source_connection_string, destination_connection_string) VALUES ('vbench', 'env:SOURCE_URL', 'env:REDSHIFT_URL') RETURNING id`);
  await meta.query(`INSERT INTO tables (job_id, source_name, copy_mode, primary_key, row_limit) VALUES ($1, 'vbench', 'INSERT_ONLY', 'id', 1000000)`, [job.rows[0].id]);
  process.env.SOURCE_URL = stackEnv.SOURCE_URL;
  process.env.REDSHIFT_URL = stackEnv.REDSHIFT_URL;
  const synced = await timed(() => syncJob(stackEnv.DATABASE_URL!, 'vbench', {}, { env, log }));
  if (!synced.r.ok) throw new Error(`verify bench: the sync failed: ${JSON.stringify(synced.r)}`);
  say(`(synced the table into the double in ${fmt(synced.s)} s)`);
  await rs.query('VACUUM');
  await src.query('CHECKPOINT');
  const copySql = copyToStdoutSql(`SELECT ${COLUMNS} FROM vbench`);
  await drain(src, copySql);
  const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  type Round = { copy: number; verify: number; transferred: number; status: string };
  const paired = async (): Promise<Round[]> => {
    const out: Round[] = [];
    for (let i = 0; i < rounds; i++) {
      const copy = (await timed(() => drain(src, copySql))).s;
      const v = await timed(() => verifyJob(stackEnv.DATABASE_URL!, 'vbench', {}, { env, log }));
      const t = v.r.tables[0]!;
      out.push({ copy, verify: v.s, transferred: t.rowsTransferred, status: `${t.status}: ${t.missing.count}/${t.extra.count}/${t.differ.count}` });
    }
    return out;
  };
  const row = (label: string, rs: Round[], base?: number) => {
    const ratios = rs.map((r) => r.verify / r.copy);
    const extra = base ? ` | ${fmt(med(rs.map((r) => r.verify)) / base, 2)}` : ' | 1.00';
    say(`| ${label} | ${fmt(med(rs.map((r) => r.verify)), 2)} | ${fmt(med(rs.map((r) => r.copy)), 2)} | **${fmt(med(ratios), 2)}** (${fmt(Math.min(...ratios), 2)}-${fmt(Math.max(...ratios), 2)}) | ${rs[0]!.status} | ${rs[0]!.transferred}${extra} |`);
  };
  say(`| verify (EXTRACT_SESSIONS=${env.EXTRACT_SESSIONS} sessions per side for the first level) | verify s (median) | COPY drain s (median) | verify / COPY, median of ${rounds} paired rounds (min-max) | found (missing/extra/differ) | rows read from differing ranges | to the clean verify |`);
  say(`|---|---|---|---|---|---|---|`);
  const clean = await paired();
  row('nothing different', clean);
  await rs.query(`UPDATE vbench SET note = note || 'x' WHERE id IN (SELECT 1 + (g * 19997) % ${ROWS} FROM generate_series(1, 100) g)`);
  const dirty = await paired();
  row('100 scattered differences', dirty, med(clean.map((r) => r.verify)));

  // The first level's queries on each side alone, as verify runs them (same SQL and sessions).
  const sc = verifyColumnsOf(await sourceColumnsForDrift(src, 'public', 'vbench'));
  const tc = await readTargetColumns(rs, { schema: 'public', name: 'vbench' });
  const t0 = (await meta.query(`SELECT * FROM tables WHERE source_name = 'vbench'`)).rows[0];
  const plan = planVerify({
    job: 'vbench', destinationSchema: 'public', sourceColumns: sc, targetColumns: tc, updatedKeyCutoff: null,
    table: { id: t0.id, jobId: t0.job_id, sourceSchema: 'public', sourceName: 'vbench', destinationSchema: null, destinationName: null, copyMode: 'FULL_DATA_SYNC', primaryKey: 'id', updatedKey: null, disabled: false, maxPrimaryKey: null, maxUpdatedKey: null, rowLimit: null, chunkSize: null },
  });
  const width = 1024n;
  const parts = splitSpan(1n, BigInt(ROWS), width, env.EXTRACT_SESSIONS);
  const cut = { kind: 'range' as const, width };
  const side = async (which: 'source' | 'target') => {
    const clients: pg.Client[] = [];
    for (const _ of parts) {
      const c = new pg.Client({ connectionString: which === 'source' ? stackEnv.SOURCE_URL : stackEnv.REDSHIFT_URL });
      await c.connect();
      await c.query(`SET timezone TO 'UTC'`);
      clients.push(c);
    }
    const t = await timed(() =>
      Promise.all(parts.map((r, i) => clients[i]!.query(which === 'source' ? summarySql('postgres', plan.source, plan.shape, cut, r, null) : summarySql('redshift', plan.target, plan.shape, cut, r, null)))),
    );
    for (const c of clients) await c.end();
    return t.s;
  };
  const alone: Array<{ copy: number; source: number; target: number }> = [];
  for (let i = 0; i < rounds; i++) alone.push({ copy: (await timed(() => drain(src, copySql))).s, source: await side('source'), target: await side('target') });
  say(`\n| one side alone, the first level's queries (${parts.length} session(s)) | seconds (median) | to the COPY drain of the same round, median (min-max) |`);
  say(`|---|---|---|`);
  for (const k of ['source', 'target'] as const) {
    const ratios = alone.map((a) => a[k] / a.copy);
    say(`| ${k === 'source' ? 'source (Postgres)' : 'target (the double: Postgres running the Redshift SQL, STRTOL and JSON_SERIALIZE emulated)'} | ${fmt(med(alone.map((a) => a[k])), 2)} | ${fmt(med(ratios), 2)} (${fmt(Math.min(...ratios), 2)}-${fmt(Math.max(...ratios), 2)}) |`);
  }
  const repaired = await timed(() => verifyJob(stackEnv.DATABASE_URL!, 'vbench', { repair: true }, { env, log }));
  const rep = repaired.r.tables[0]!.repair;
  say(`\nverify --repair of the 100 differences: ${fmt(repaired.s, 2)} s in all (the repair itself ${fmt(rep?.seconds ?? 0, 2)} s: ${rep?.loaded} rows loaded, ${rep?.deleted} deleted, verified again: ${JSON.stringify(rep?.reverify)})`);
  await src.query(`DROP TABLE vbench`);
  await rs.query(`DROP TABLE vbench`);
  await rs.end();
  await meta.end();
}

main().catch(async (err) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
