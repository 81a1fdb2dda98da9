import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runApply } from '../../src/apply/apply.js';
import { cli } from '../helpers/cli.js';
import { freshMetadataDb, withClient } from '../helpers/stack.js';
import { syncFixture, type SyncFixture } from '../helpers/sync-fixture.js';

/**
 * `apply`, `export` and the everyday edits against a real metadata DB, through the CLI
 * as people run them (exit codes, stdout, stderr) where it matters.
 */
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'rl-apply-'));
});

async function file(name: string, text: string): Promise<string> {
  const p = path.join(dir, name);
  await writeFile(p, text);
  return p;
}

const SHOP = `version: 1
jobs:
  - name: shop
    source_connection_string: env:SHOP_DATABASE_URL
    destination_connection_string: env:REDSHIFT_URL
    destination_schema: shop
    tables:
      - source_name: orders
        copy_mode: INSERT_AND_UPDATE
        primary_key: id
        updated_key: updated_at
        delete_detection: true
        delete_detection_minutes: 60
      - source_name: items
        copy_mode: FULL_DATA_SYNC
        primary_key: [order_id, line]
        value_policies: { text_too_long: truncate }
      - source_schema: audit
        source_name: log
        copy_mode: INSERT_ONLY
        primary_key: id
        row_limit: 50000
    schedules:
      - frequency: 900
        at: "06:**,07:**"
        timezone: Europe/Berlin
`;

/** Every column of the job's rows, loader-written ones included, to compare before and after. */
async function rows(url: string, job = 'shop') {
  return withClient(url, async (c) => ({
    job: (await c.query(`SELECT * FROM jobs WHERE name = $1`, [job])).rows,
    tables: (await c.query(`SELECT t.* FROM tables t JOIN jobs j ON j.id = t.job_id WHERE j.name = $1 ORDER BY t.id`, [job])).rows,
    schedules: (await c.query(`SELECT s.* FROM schedule_events s JOIN jobs j ON j.id = s.job_id WHERE j.name = $1 ORDER BY s.id`, [job])).rows,
  }));
}

const LOADER_WRITTEN = ['max_primary_key', 'max_updated_key', 'watermark_snapshot', 'source_attnums', 'last_synced_at', 'last_error', 'deletes_checked_at', 'deletes_removed', 'claimed_by', 'claimed_at', 'claim_expires_at', 'claim_token'];
const pick = (r: Record<string, unknown>, keys: string[]) => Object.fromEntries(keys.map((k) => [k, r[k]]));

describe('apply', () => {
  let url: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    url = await freshMetadataDb();
    env = { DATABASE_URL: url };
  });

  it('creates jobs, tables and schedules in one go; --dry-run first writes nothing; a second apply is "no changes"', async () => {
    const f = await file('shop.yaml', SHOP);
    const dry = await cli(['apply', f, '--dry-run'], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('+ job shop: add');
    expect(dry.stdout).toContain('  + table audit.log: add');
    expect(dry.stdout).toMatch(/^5 added\ndry run: nothing was written\n$/m);
    expect((await rows(url)).job).toEqual([]);
    const real = await cli(['apply', f], env);
    expect(real.code, real.stderr).toBe(0);
    expect(real.stdout).toMatch(/5 added\napplied in one transaction\n$/);
    const r = await rows(url);
    expect(pick(r.job[0], ['name', 'source_connection_string', 'destination_connection_string', 'destination_schema', 'enabled'])).toEqual({
      name: 'shop',
      source_connection_string: 'env:SHOP_DATABASE_URL',
      destination_connection_string: 'env:REDSHIFT_URL',
      destination_schema: 'shop',
      enabled: true,
    });
    expect(r.tables.map((t) => pick(t, ['source_schema', 'source_name', 'copy_mode', 'primary_key', 'updated_key', 'delete_detection', 'delete_detection_minutes', 'value_policies', 'row_limit']))).toEqual([
      { source_schema: 'public', source_name: 'orders', copy_mode: 'INSERT_AND_UPDATE', primary_key: 'id', updated_key: 'updated_at', delete_detection: true, delete_detection_minutes: 60, value_policies: null, row_limit: null },
      { source_schema: 'public', source_name: 'items', copy_mode: 'FULL_DATA_SYNC', primary_key: 'order_id, line', updated_key: null, delete_detection: false, delete_detection_minutes: null, value_policies: { text_too_long: 'truncate' }, row_limit: null },
      { source_schema: 'audit', source_name: 'log', copy_mode: 'INSERT_ONLY', primary_key: 'id', updated_key: null, delete_detection: false, delete_detection_minutes: null, value_policies: null, row_limit: 50000 },
    ]);
    expect(r.schedules.map((s) => pick(s, ['frequency', 'at', 'timezone', 'enabled']))).toEqual([{ frequency: 900, at: '06:**,07:**', timezone: 'Europe/Berlin', enabled: true }]);
    const again = await cli(['apply', f], env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toBe('  job shop: no changes\nno changes\n');
    expect(await rows(url)).toEqual(r);
  });

  it('changes only the fields the file changes, never watermarks or other loader-written columns; rows not in the file are kept without --prune, removed with it', async () => {
    await withClient(url, async (c) => {
      await c.query(`INSERT INTO jobs (name, source_connection_string, destination_connection_string) VALUES ('billing', 'env:BILLING_URL', 'env:REDSHIFT_URL')`);
      await c.query(
        `UPDATE tables SET max_primary_key = '["1042"]', max_updated_key = '2026-11-30 10:00:00+00', watermark_snapshot = '{"xmin": "5"}', source_attnums = '{"id": 1}',
                last_synced_at = now(), last_error = 'boom', deletes_checked_at = now(), deletes_removed = 4
          WHERE source_name = 'orders'`,
      );
      await c.query(`INSERT INTO tables (job_id, source_name, copy_mode) SELECT id, 'legacy', 'FULL_DATA_SYNC' FROM jobs WHERE name = 'shop'`);
      await c.query(`INSERT INTO schedule_events (job_id, frequency) SELECT id, 60 FROM jobs WHERE name = 'shop'`);
      await c.query(`UPDATE schedule_events SET last_succeeded_at = now(), failure_count = 2 WHERE frequency = 900`);
    });
    const before = await rows(url);
    const billing = await rows(url, 'billing');
    const changed = SHOP.replace('copy_mode: INSERT_AND_UPDATE', 'copy_mode: INSERT_ONLY').replace('        updated_key: updated_at\n', '').replace('frequency: 900', 'frequency: 600');
    const f = await file('shop-changed.yaml', changed);
    const kept = await cli(['apply', f], env);
    expect(kept.code, kept.stderr).toBe(0);
    expect(kept.stdout).toContain(
      [
        '  job shop:',
        '  ~ table public.orders: change',
        '      copy_mode: "INSERT_AND_UPDATE" -> "INSERT_ONLY"',
        '      updated_key: "updated_at" -> null',
        '      note: the watermark is kept (max_updated_key 2026-11-30 10:00:00+00, max_primary_key ["1042"]): the next sync reads after it with the new settings; to read the table again from the start, run redshift-loader reset --job shop --table public.orders',
        '  = table public.legacy: not in the file, kept (apply --prune removes it)',
        '  ~ schedule every 900 s at 06:**,07:** (Europe/Berlin): change',
        '      frequency: 900 -> 600',
        '  = schedule every 60 s: not in the file, kept (apply --prune removes it)',
        'jobs not in the file, not touched: billing',
        '2 changed; 2 row(s) not in the file kept',
      ].join('\n'),
    );
    const after = await rows(url);
    const orders = (r: typeof after) => r.tables.find((t) => t.source_name === 'orders')!;
    expect(pick(orders(after), LOADER_WRITTEN)).toEqual(pick(orders(before), LOADER_WRITTEN));
    expect(pick(orders(after), ['copy_mode', 'updated_key'])).toEqual({ copy_mode: 'INSERT_ONLY', updated_key: null });
    expect(after.tables.map((t) => t.source_name)).toEqual(['orders', 'items', 'log', 'legacy']);
    const sched = (r: typeof after) => r.schedules.find((s) => s.id === before.schedules[0].id)!;
    // The schedule changed in place: its run state stays.
    expect(pick(sched(after), ['frequency', 'last_succeeded_at', 'failure_count'])).toEqual({ frequency: 600, last_succeeded_at: sched(before).last_succeeded_at, failure_count: 2 });
    const pruned = await cli(['apply', f, '--prune'], env);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(pruned.stdout).toContain('  - table public.legacy: remove\n      note: its 0 sync_runs row(s) go with it; the Redshift table is left as it is\n');
    expect(pruned.stdout).toContain('  - schedule every 60 s: remove\n');
    expect(pruned.stdout).toMatch(/^2 removed\napplied in one transaction\n$/m);
    const final = await rows(url);
    expect(final.tables.map((t) => t.source_name)).toEqual(['orders', 'items', 'log']);
    expect(final.schedules).toHaveLength(1);
    expect(pick(orders(final), LOADER_WRITTEN)).toEqual(pick(orders(before), LOADER_WRITTEN));
    expect(await rows(url, 'billing')).toEqual(billing);
    expect((await cli(['apply', f, '--prune'], env)).stdout).toBe('  job shop: no changes\njobs not in the file, not touched: billing\nno changes\n');
  });

  it('refuses an invalid file with exit 2 and one line per problem on stderr, and writes nothing', async () => {
    const before = await rows(url);
    const f = await file(
      'bad.yaml',
      `jobs:
  - name: shop
    source_connection_string: postgres://loader:Secret123@db/shop
    destination_connection_string: env:REDSHIFT_URL
    tables:
      - { source_name: orders, copy_mode: INSERT_AND_UPDATE, primary_key: id }
      - { source_name: items, copy_mode: FULL, max_updated_key: "2026-01-01" }
`,
    );
    const r = await cli(['apply', f], env);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toEqual([
      `${f}:3:5: jobs[0].source_connection_string: holds a password, which must not be in a file kept in git: write env:SHOP_SOURCE_URL and set SHOP_SOURCE_URL to the URL where the worker runs`,
      `${f}:6:9: jobs[0].tables[0].updated_key: copy_mode INSERT_AND_UPDATE needs updated_key (a timestamp, timestamptz or date column)`,
      `${f}:7:31: jobs[0].tables[1].copy_mode: must be one of INSERT_ONLY, INSERT_AND_UPDATE, FULL_DATA_SYNC, CDC (got "FULL")`,
      `${f}:7:48: jobs[0].tables[1].max_updated_key: cannot be set in a file: max_updated_key is a watermark, written by the loader; \`redshift-loader reset\` sets it to NULL`,
    ]);
    expect(r.stderr).not.toContain('Secret123');
    expect(await rows(url)).toEqual(before);
    const missing = await cli(['apply', path.join(dir, 'nope.yaml')], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.yaml: cannot read the file: ENOENT/);
  });

  it('export then apply changes nothing (YAML and JSON); export --job names an unknown job with exit 2', async () => {
    const yamlOut = path.join(dir, 'export.yaml');
    const e = await cli(['export', '-o', yamlOut], env);
    expect(e.code, e.stderr).toBe(0);
    const text = await readFile(yamlOut, 'utf8');
    expect(text).toContain('  - name: billing\n');
    expect(text).toContain('        value_policies:\n          text_too_long: truncate\n');
    expect((await cli(['apply', yamlOut], env)).stdout).toBe('  job billing: no changes\n  job shop: no changes\nno changes\n');
    const json = await cli(['export', '--job', 'shop', '--format', 'json'], env);
    expect(json.code, json.stderr).toBe(0);
    const jsonFile = await file('export.json', json.stdout);
    expect((await cli(['apply', jsonFile], env)).stdout).toBe('  job shop: no changes\njobs not in the file, not touched: billing\nno changes\n');
    const unknown = await cli(['export', '--job', 'nope'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('redshift-loader: job "nope" not found in the jobs table (jobs: billing, shop)');
  });

  it('does not remove a table that a sync is running, and writes nothing of the rest', async () => {
    const before = await rows(url);
    await withClient(url, (c) => c.query(`UPDATE tables SET claimed_by = 'worker@host:1:abc', claim_expires_at = now() + interval '1 hour' WHERE source_name = 'log'`));
    const f = await file('without-log.yaml', SHOP.replace(/      - source_schema: audit[\s\S]*?row_limit: 50000\n/, '').replace('frequency: 900', 'frequency: 300'));
    const r = await runApply(url, { file: f, prune: true });
    expect(r.code).toBe(1);
    expect(r.problems).toEqual([
      expect.stringMatching(/^cannot apply: job shop, table audit\.log: cannot be removed while a sync runs it \(claimed by worker@host:1:abc until .+\); apply again when it has finished, or keep it in the file$/),
    ]);
    expect(r.output).toMatch(/nothing was written\n$/);
    const after = await rows(url);
    expect(after.schedules.map((s) => s.frequency)).toEqual(before.schedules.map((s) => s.frequency));
    expect(after.tables.map((t) => t.source_name)).toEqual(before.tables.map((t) => t.source_name));
    await withClient(url, (c) => c.query(`UPDATE tables SET claimed_by = NULL, claim_expires_at = NULL WHERE source_name = 'log'`));
  });

  it('disable and enable a table (or a job), saying what changed', async () => {
    const d = await cli(['disable', '--job', 'shop', '--table', 'audit.log'], env);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toBe('job shop, table audit.log: disabled\n');
    expect((await cli(['disable', '--job', 'shop', '--table', 'log'], env)).stdout).toBe('job shop, table audit.log: already disabled; nothing changed\n');
    const state = () => withClient(url, async (c) => (await c.query(`SELECT disabled FROM tables WHERE source_name = 'log'`)).rows[0].disabled);
    expect(await state()).toBe(true);
    expect((await cli(['enable', '--job', 'shop', '--table', 'audit.log'], env)).stdout).toBe('job shop, table audit.log: enabled\n');
    expect(await state()).toBe(false);
    const job = await cli(['disable', '--job', 'billing'], env);
    expect(job.stdout).toBe('job billing: disabled (the worker no longer schedules it; a run in progress finishes)\n');
    expect((await cli(['enable', '--job', 'billing'], env)).code).toBe(0);
    const missing = await cli(['disable', '--job', 'shop', '--table', 'public.nope'], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe('redshift-loader: job "shop" has no table public.nope (its tables: audit.log, public.items, public.orders)\n');
  });
});

describe('reset and run', () => {
  let f: SyncFixture;
  let env: Record<string, string | undefined>;
  let orders: number;
  beforeAll(async () => {
    f = await syncFixture('apply');
    env = { ...f.target.env, DATABASE_URL: f.metaUrl, RL_TEST_SRC_APPLY: f.sourceUrl, RL_TEST_DST_APPLY: f.target.url };
    await f.source(`CREATE TABLE orders (id int PRIMARY KEY, note text, updated_at timestamptz NOT NULL DEFAULT now())`);
    await f.source(`INSERT INTO orders (id, note) SELECT g, 'n' || g FROM generate_series(1, 25) g`);
    await f.source(`ANALYZE orders`);
    await f.redshift(`CREATE TABLE ${f.target.schema}.orders (id INTEGER NOT NULL, note VARCHAR(100), updated_at TIMESTAMPTZ NOT NULL)`);
    orders = await f.addTable({ source: 'orders', mode: 'INSERT_AND_UPDATE', primaryKey: 'id', updatedKey: 'updated_at' });
    await f.meta(`INSERT INTO schedule_events (job_id, frequency) VALUES ($1, 86400)`, [f.jobId]);
  });
  afterAll(() => f.close());

  const schedule = async () => (await f.meta(`SELECT last_run_at, last_succeeded_at, failure_count, retry_at FROM schedule_events WHERE job_id = $1`, [f.jobId])).rows;
  const watermark = async () => (await f.meta(`SELECT max_primary_key, max_updated_key, watermark_snapshot FROM tables WHERE id = $1`, [orders])).rows[0];

  it('run syncs the job now, leaves its schedule as it was, and refuses while a worker runs the job', async () => {
    const before = await schedule();
    const r = await cli(['run', '--job', f.jobName], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^ok {5}public\.orders: 25 rows in 1 batch\(es\)$/m);
    expect(Number((await f.redshift(`SELECT count(*) AS n FROM ${f.target.schema}.orders`)).rows[0].n)).toBe(25);
    expect(await schedule()).toEqual(before);
    expect((await f.meta(`SELECT claimed_by FROM jobs WHERE id = $1`, [f.jobId])).rows[0].claimed_by).toBeNull();
    await f.meta(`UPDATE jobs SET claimed_by = 'worker@host:1:abc', claim_expires_at = now() + interval '1 hour' WHERE id = $1`, [f.jobId]);
    const busy = await cli(['run', '--job', f.jobName], env);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(/^redshift-loader: job "apply_job" is running now \(claimed by worker@host:1:abc until .+, unless renewed\); wait for it to finish/m);
    await f.meta(`UPDATE jobs SET claimed_by = NULL, claim_expires_at = NULL WHERE id = $1`, [f.jobId]);
  });

  it('reset shows the mode and the rows it will re-read, asks, and refuses while a sync runs the table', async () => {
    const wm = await watermark();
    expect(wm.max_primary_key).toEqual(['25']);
    const no = await cli(['reset', '--job', f.jobName, '--table', 'orders'], env, { input: 'n\n' });
    expect(no.code).toBe(1);
    expect(no.stdout).toContain(`job apply_job, table public.orders (INSERT_AND_UPDATE)\n  watermark now: max_updated_key ${wm.max_updated_key.toISOString().replace('T', ' ').replace('Z', '')}`);
    expect(no.stdout).toContain('the next sync reads the whole table again, about 25 rows (the catalog\'s estimate),\n  and merges it over the target by primary key (id): rows are replaced, never duplicated.\n');
    expect(no.stderr).toContain('not confirmed: nothing was reset (--yes skips the question)');
    expect(await watermark()).toEqual(wm);
    await f.meta(`UPDATE tables SET claimed_by = 'worker@host:1:abc', claim_expires_at = now() + interval '1 hour' WHERE id = $1`, [orders]);
    const busy = await cli(['reset', '--job', f.jobName, '--table', 'orders', '--yes'], env);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toContain('a sync is running it now (claimed by worker@host:1:abc); nothing was reset');
    expect(await watermark()).toEqual(wm);
    await f.meta(`UPDATE tables SET claimed_by = NULL, claim_expires_at = NULL WHERE id = $1`, [orders]);
    const yes = await cli(['reset', '--job', f.jobName, '--table', 'public.orders'], env, { input: 'y\n' });
    expect(yes.code, yes.stderr).toBe(0);
    expect(yes.stdout).toContain('job apply_job, table public.orders: watermark reset; the next sync reads it from the start\n');
    expect(await watermark()).toEqual({ max_primary_key: null, max_updated_key: null, watermark_snapshot: null });
    const again = await cli(['reset', '--job', f.jobName, '--table', 'orders', '--yes'], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe('job apply_job, table public.orders (INSERT_AND_UPDATE): the watermark is already NULL; the next sync reads the whole table. Nothing to reset.\n');
    // The resync merges: still 25 rows, no duplicates.
    expect((await cli(['run', '--job', f.jobName], env)).code).toBe(0);
    expect(Number((await f.redshift(`SELECT count(*) AS n FROM ${f.target.schema}.orders`)).rows[0].n)).toBe(25);
  });
});
