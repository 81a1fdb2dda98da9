/**
 * `npm run demo`: the whole product on one machine in about a minute.
 *
 * Starts the local stack (embedded PostgreSQL, S3 server, Redshift double), creates a
 * small shop in the source database, configures a job purely through metadata rows, runs
 * the worker, keeps inserting and updating rows while it runs, shows them arriving in
 * the Redshift double (the carts table through the write-ahead log, copy_mode CDC, deletes
 * included), then proves target = source with `verify` (every column of every
 * row, hashed on each side), breaks three target rows on purpose, shows verify name them and
 * `verify --repair` fix them, and stops everything. Ctrl-C at any time stops cleanly.
 * DEMO_SECONDS sets how long the writers run (default 30).
 */
import { PassThrough } from 'node:stream';
import pg from 'pg';
import { loadEnv } from '../src/config/env.js';
import { migrate } from '../src/db/migrate.js';
import { createLogger } from '../src/log.js';
import { syncRunner } from '../src/scheduler/run-job.js';
import { startWorker, type Worker } from '../src/scheduler/worker.js';
import { handleSignalsOurselves } from '../src/stack/postgres.js';
import { startStack, type Stack } from '../src/stack/stack.js';
import { verifyJob, type VerifyJobResult } from '../src/verify/run.js';
import { summarizeReport } from '../src/verify/report.js';

// The AWS SDK's notice that its 2027 releases need Node 22 is not for the demo's audience.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const seconds = Number(process.env.DEMO_SECONDS ?? 30);
const say = (msg: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)}  ${msg}\n`);

const SOURCE_DDL = `
CREATE TABLE customers (
  id serial PRIMARY KEY, name text NOT NULL, email varchar(120) NOT NULL, country char(2),
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX ON customers (updated_at, id);
CREATE TABLE orders (
  id bigserial PRIMARY KEY, customer_id int NOT NULL REFERENCES customers, status text NOT NULL,
  amount numeric(12,2) NOT NULL, note text, created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX ON orders (updated_at, id);
CREATE TABLE order_events (
  id bigserial PRIMARY KEY, order_id bigint NOT NULL, kind text NOT NULL, payload jsonb,
  created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE countries (code char(2) PRIMARY KEY, name text NOT NULL);
CREATE TABLE carts (id bigserial PRIMARY KEY, customer_id int NOT NULL, items int NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
INSERT INTO carts (customer_id, items) SELECT 1 + g % 5000, 1 + g % 7 FROM generate_series(1, 2000) g;
INSERT INTO countries VALUES ('DE','Germany'),('FR','France'),('US','United States'),('JP','Japan'),('BR','Brazil');
INSERT INTO customers (name, email, country, updated_at)
  SELECT 'Customer ' || g, 'c' || g || '@example.com', (ARRAY['DE','FR','US','JP','BR'])[1 + g % 5], now() - (g || ' s')::interval
  FROM generate_series(1, 5000) g;
INSERT INTO orders (customer_id, status, amount, note, created_at, updated_at)
  SELECT 1 + g % 5000, 'new', (g % 10000) / 100.0, CASE WHEN g % 9 = 0 THEN E'gift, "wrapped"\\nsecond line' END,
         now() - (g || ' s')::interval, now() - (g || ' s')::interval
  FROM generate_series(1, 30000) g;
INSERT INTO order_events (order_id, kind, payload)
  SELECT 1 + g % 30000, 'created', jsonb_build_object('source', 'web', 'n', g) FROM generate_series(1, 20000) g;
`;

// Target tables, written in Redshift's own DDL (`redshift-loader setup` can generate these).
const TARGET_DDL = `
CREATE TABLE customers (id INTEGER NOT NULL, name VARCHAR(65535) NOT NULL, email VARCHAR(480) NOT NULL, country CHAR(2),
  created_at TIMESTAMPTZ NOT NULL, updated_at TIMESTAMPTZ NOT NULL) DISTKEY(id) SORTKEY(updated_at, id);
CREATE TABLE orders (id BIGINT NOT NULL, customer_id INTEGER NOT NULL, status VARCHAR(256) NOT NULL, amount NUMERIC(12,2) NOT NULL,
  note VARCHAR(65535), created_at TIMESTAMPTZ NOT NULL, updated_at TIMESTAMPTZ NOT NULL) DISTKEY(id) SORTKEY(updated_at, id);
CREATE TABLE order_events (id BIGINT NOT NULL, order_id BIGINT NOT NULL, kind VARCHAR(256) NOT NULL, payload SUPER,
  created_at TIMESTAMPTZ NOT NULL) DISTKEY(id) SORTKEY(id);
CREATE TABLE countries (code CHAR(2) NOT NULL, name VARCHAR(256) NOT NULL) DISTSTYLE ALL;
CREATE TABLE carts (id BIGINT NOT NULL, customer_id INTEGER NOT NULL, items INTEGER NOT NULL, updated_at TIMESTAMPTZ NOT NULL) DISTKEY(id) SORTKEY(id);
`;

const TABLES: Array<{ name: string; mode: string; pk: string; uk: string | null }> = [
  { name: 'customers', mode: 'INSERT_AND_UPDATE', pk: 'id', uk: 'updated_at' },
  { name: 'orders', mode: 'INSERT_AND_UPDATE', pk: 'id', uk: 'updated_at' },
  { name: 'order_events', mode: 'INSERT_ONLY', pk: 'id', uk: null },
  { name: 'countries', mode: 'FULL_DATA_SYNC', pk: 'code', uk: null },
  // Log-based change capture: every insert, update and delete, from the write-ahead log.
  { name: 'carts', mode: 'CDC', pk: 'id', uk: null },
];

let stack: Stack | undefined;
let worker: Worker | undefined;
const clients: pg.Client[] = [];
/** Set on Ctrl-C (or the end): from then on nothing new starts, and errors of what is being torn down are expected. */
let stopping = false;
let stopped: Promise<never> | undefined;

/** Stops the worker, the clients and the stack (removing its files), then exits. Once. */
function shutdown(code: number): Promise<never> {
  stopping = true;
  stopped ??= (async () => {
    await worker?.stop().catch(() => undefined);
    for (const c of clients) await c.end().catch(() => undefined);
    await stack?.stop().catch(() => undefined);
    process.exit(code);
  })();
  return stopped;
}

async function client(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => undefined);
  await c.connect();
  clients.push(c);
  return c;
}

async function counts(src: pg.Client, rs: pg.Client) {
  const out: string[] = [];
  let equal = true;
  for (const t of TABLES) {
    const a = (await src.query(`SELECT count(*)::int AS n FROM ${t.name}`)).rows[0].n as number;
    const b = (await rs.query(`SELECT count(*)::int AS n FROM ${t.name}`)).rows[0].n as number;
    out.push(`${t.name} ${b}/${a}`);
    if (a !== b) equal = false;
  }
  return { text: out.join('  '), equal };
}

/** One line per table of a verify run. */
function sayVerify(r: VerifyJobResult): void {
  for (const t of r.tables) {
    const n = t.leftOut ? t.leftOut.sourceRows + t.leftOut.targetRows : 0;
    const left = n > 0 ? `; ${n} left out: the last rows, changed within UPDATED_KEY_OVERLAP_SECONDS of the watermark` : '';
    const found = t.status === 'match' ? 'MATCH' : summarizeReport(t);
    say(`  verify ${t.table}: ${found} (${t.compared?.sourceRows ?? 0} rows x ${t.compared?.columns.length ?? 0} columns compared${left})`);
    if (t.status === 'differ') for (const e of t.differ.examples.slice(0, 3)) say(`    differs: ${e.key} in ${e.columns.join(', ')}`);
    if (t.status === 'differ') for (const e of t.missing.examples.slice(0, 3)) say(`    missing from the target: ${e}`);
    if (t.repair) say(`    repaired: ${t.repair.loaded} rows loaded, ${t.repair.deleted} deleted (sync_runs ${t.repair.runId}); verified again: ${t.repair.status === 'repaired' ? 'match' : t.repair.status}`);
  }
}

async function main() {
  // Ctrl-C at a terminal reaches the stack's servers too (one process group): they stop at
  // once, and everything still talking to them fails. That is the shutdown, not an error.
  await handleSignalsOurselves();
  const interrupt = (code: number) => () => {
    if (!stopping) say('stopping: the worker, then the stack (its files are removed)...');
    void shutdown(code);
  };
  process.once('SIGINT', interrupt(130));
  process.once('SIGTERM', interrupt(143));
  say('starting the local stack (embedded PostgreSQL, S3 server, Redshift double)...');
  stack = await startStack({});
  if (stopping) return;
  Object.assign(process.env, stack.env);
  await migrate(stack.env.DATABASE_URL);
  const src = await client(stack.env.SOURCE_URL);
  const rs = await client(stack.env.REDSHIFT_URL);
  const meta = await client(stack.env.DATABASE_URL);
  say('creating the source shop: 5,000 customers, 30,000 orders, 20,000 order events, 5 countries, 2,000 carts');
  await src.query(SOURCE_DDL);
  say('creating the target tables in the Redshift double');
  await rs.query(TARGET_DDL);
  say('configuring job "demo" through the metadata rows (jobs, tables, schedule_events)');
  const job = await meta.query(
    `INSERT INTO jobs (name, source_connection_string, destination_connection_string) VALUES ('demo', 'env:SOURCE_URL', 'env:REDSHIFT_URL') RETURNING id`,
  );
  const jobId = job.rows[0].id;
  for (const t of TABLES) {
    await meta.query(`INSERT INTO tables (job_id, source_name, copy_mode, primary_key, updated_key, row_limit) VALUES ($1, $2, $3::copy_mode, $4, $5, 10000)`, [jobId, t.name, t.mode, t.pk, t.uk]);
  }
  await meta.query(`INSERT INTO schedule_events (job_id, frequency) VALUES ($1, 3)`, [jobId]);

  const logFile = new PassThrough();
  logFile.on('data', (d: Buffer) => {
    for (const line of d.toString().split('\n')) {
      if (!line || stopping) continue;
      const l = JSON.parse(line) as Record<string, unknown>;
      const cdc = TABLES.some((t) => t.mode === 'CDC' && `public.${t.name}` === l.table);
      if (l.msg === 'table sync succeeded' && Number(l.rows) > 0 && !cdc) {
        const what = Number(l.changed) > 0 || Number(l.reread) === 0 ? `+${l.changed} changed rows${Number(l.reread) > 0 ? ` (and ${l.reread} re-read)` : ''}` : `${l.reread} rows copied whole`;
        say(`  worker: ${l.table} ${what} in ${l.batches} batch(es), ${l.mib} MiB`);
      }
      else if (l.msg === 'CDC initial load finished') say(`  worker: ${l.table} loaded in the replication slot's snapshot (${l.rows} rows); from now on its changes come from the write-ahead log`);
      else if (l.msg === 'CDC batch applied') say(`  worker: CDC (write-ahead log) ${l.changes} changes, ${l.deletes} of them deletes, in one Redshift transaction`);
      else if (l.level === 'error' || l.level === 'warn') {
        // Ctrl-C reaches the servers at the same moment as this process: what they say while
        // shutting down ("terminating connection due to administrator command") can come
        // before our handler has run. Problems are shown after a moment, unless we are stopping.
        const text = `  worker ${String(l.level)}: ${String(l.msg)} ${l.err ? String(l.err) : ''}`;
        if (/administrator command|Connection terminated/i.test(text)) continue;
        setTimeout(() => {
          if (!stopping) say(text);
        }, 500).unref();
      }
    }
  });
  const log = createLogger({ destination: logFile, pretty: false, level: 'info' });
  // One machine, no late commits: a 2 s overlap window is plenty (verify leaves out rows changed within it of the watermark).
  const env = loadEnv({ ...process.env, WORKER_TICK_SECONDS: '1', SYNC_DB_EVENTS_FREQUENCY: '5', IMPORT_CHUNK_SIZE: '5000', UPDATED_KEY_OVERLAP_SECONDS: '2' }, ['DATABASE_URL']);
  say('starting the worker (job "demo" every 3 s)');
  worker = startWorker({ metadataUrl: env.DATABASE_URL!, env, log, runJob: syncRunner(env.DATABASE_URL!, env, log) });

  const writer = await client(stack.env.SOURCE_URL);
  const until = Date.now() + seconds * 1000;
  let inserted = 0;
  let updated = 0;
  let deleted = 0;
  let lastReport = 0;
  say(`writing to the source for ${seconds} s: new orders, status changes, new customers, events`);
  while (Date.now() < until && !stopping) {
    await writer.query(`INSERT INTO orders (customer_id, status, amount) SELECT 1 + (random() * 4999)::int, 'new', round((random() * 500)::numeric, 2) FROM generate_series(1, 20)`);
    await writer.query(`UPDATE orders SET status = 'shipped', updated_at = now() WHERE id IN (SELECT 1 + (random() * 29999)::int FROM generate_series(1, 10))`);
    await writer.query(`INSERT INTO order_events (order_id, kind, payload) SELECT 1 + (random() * 29999)::int, 'shipped', '{"by":"demo"}' FROM generate_series(1, 10)`);
    await writer.query(`INSERT INTO customers (name, email, country) VALUES ('New customer', 'new@example.com', 'FR')`);
    // Carts come and go: deletes that only the write-ahead log sees.
    await writer.query(`DELETE FROM carts WHERE id IN (SELECT id FROM carts ORDER BY random() LIMIT 5)`);
    await writer.query(`INSERT INTO carts (customer_id, items) SELECT 1 + (random() * 4999)::int, 1 FROM generate_series(1, 4)`);
    await writer.query(`UPDATE carts SET items = items + 1, updated_at = now() WHERE id IN (SELECT id FROM carts ORDER BY random() LIMIT 3)`);
    deleted += 5;
    inserted += 35;
    updated += 10;
    if (Date.now() - lastReport > 3000) {
      lastReport = Date.now();
      say(`source +${inserted} rows, ~${updated} updates, ${deleted} deletes so far; target/source rows: ${(await counts(src, rs)).text}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  if (stopping) return;
  say('writers stopped; waiting for the worker to catch up...');
  // One last row per updated-key table 3 s later moves its watermark past everything the writers wrote,
  // so verify's live rule (rows changed within UPDATED_KEY_OVERLAP_SECONDS of it are left out)
  // compares all of their rows.
  await new Promise((r) => setTimeout(r, 3000));
  await writer.query(`INSERT INTO customers (name, email, country) VALUES ('Last customer', 'last@example.com', 'JP')`);
  await writer.query(`INSERT INTO orders (customer_id, status, amount) VALUES (1, 'new', 1.00)`);
  const lastWrite = (await meta.query(`SELECT now() AS t`)).rows[0].t as Date;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (stopping) return;
    const c = await counts(src, rs);
    // Every table synced since the last write: its updates are in too, not only its row count.
    const fresh = await meta.query(`SELECT count(DISTINCT table_id)::int AS n FROM sync_runs WHERE status = 'succeeded' AND started_at > $1`, [lastWrite]);
    if (c.equal && fresh.rows[0].n === TABLES.length) {
      say(`caught up: ${c.text}`);
      break;
    }
    if (Date.now() > deadline) {
      say(`NOT caught up after 60 s: ${c.text}`);
      await shutdown(1);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  await worker.stop();
  worker = undefined;
  const quiet = createLogger({ level: 'silent', pretty: false });
  say('redshift-loader verify --job demo: every column of every row, hashed per key range on each side');
  const v = await verifyJob(env.DATABASE_URL!, 'demo', {}, { env, log: quiet });
  sayVerify(v);
  if (!v.ok) {
    say('the target differs from the source');
    await shutdown(1);
  }
  const runs = await meta.query(`SELECT count(*)::int AS n, sum(rows)::bigint AS rows, count(*) FILTER (WHERE status = 'failed')::int AS failed FROM sync_runs`);
  say(`verified: every compared row and column of the ${TABLES.length} tables is identical in the Redshift double (${runs.rows[0].n} table syncs, ${runs.rows[0].rows} rows moved, ${runs.rows[0].failed} failed)`);

  say('breaking the target on purpose: an order deleted, an amount changed, a trailing blank added to an email');
  await rs.query(`DELETE FROM orders WHERE id = 5`);
  await rs.query(`UPDATE orders SET amount = amount + 0.01 WHERE id = 6`);
  await rs.query(`UPDATE customers SET email = email || ' ' WHERE id = 7`);
  const broken = await verifyJob(env.DATABASE_URL!, 'demo', {}, { env, log: quiet });
  sayVerify(broken);
  say('redshift-loader verify --job demo --repair: re-syncs just those keys (S3 staging, one merge transaction)');
  const repaired = await verifyJob(env.DATABASE_URL!, 'demo', { repair: true }, { env, log: quiet });
  sayVerify(repaired);
  const again = await verifyJob(env.DATABASE_URL!, 'demo', {}, { env, log: quiet });
  if (!again.ok) {
    sayVerify(again);
    await shutdown(1);
  }
  say(`verify again: all ${again.tables.length} tables match`);
  say('stopping the worker and the stack');
  await shutdown(0);
}

main().catch(async (err) => {
  // After Ctrl-C, what was talking to the stopped servers fails: not worth a word.
  if (stopping) return;
  process.stderr.write(`demo failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  await shutdown(1);
});
