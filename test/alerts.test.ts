import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkLagAlerts } from '../src/status/lag-alerts.js';
import { flushAlerts, webhookSender } from '../src/alerts/webhook.js';
import { tableFailed, tableSucceeded } from '../src/metadata/table-health.js';
import { captureLog } from './scheduler/helpers.js';
import { freshMetadataDb } from './helpers/stack.js';
import { webhookServer, type WebhookServer } from './helpers/webhook-server.js';

/** Issue 19, point 6: delivery (retries, timeouts, never blocking) and the lag alerts. */
describe('webhook delivery', () => {
  let hook: WebhookServer;
  beforeAll(async () => {
    hook = await webhookServer();
  });
  afterAll(() => hook.close());

  it('posts {"text": ...}; retries a 500 and a 429; gives up on a 404 and logs it without the URL', async () => {
    const { log, lines } = captureLog();
    const s = webhookSender(hook.url, { log, backoffMs: 10 });
    hook.respond.push(500, 429);
    s.send('first');
    await s.flush();
    expect(hook.requests.map((r) => r.body)).toEqual(['{"text":"first"}', '{"text":"first"}', '{"text":"first"}']);
    expect(hook.texts()).toEqual(['first']);
    hook.respond.push(404);
    s.send('second');
    await s.flush();
    expect(hook.requests).toHaveLength(4);
    const warn = lines.find((l) => l.level === 'warn')!;
    expect(warn.msg).toBe(`alert not delivered to ${new URL(hook.url).host} after 3 attempt(s): HTTP 404`);
    expect(JSON.stringify(lines)).not.toContain('SecretHookToken');
  });

  it('a webhook that never answers: send returns at once, each attempt times out, and flush is bounded', async () => {
    const { log, lines } = captureLog();
    const s = webhookSender(hook.url, { log, timeoutMs: 200, attempts: 2, backoffMs: 10 });
    hook.respond.push('hang', 'hang');
    const t0 = performance.now();
    s.send('nobody listens');
    expect(performance.now() - t0).toBeLessThan(20);
    await s.flush();
    // Bounded: two attempts of 200 ms and a 10 ms delay, plus flush's slack for a busy machine.
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(lines.find((l) => l.level === 'warn')?.msg).toBe(`alert not delivered to ${new URL(hook.url).host} after 2 attempt(s): no answer within 200 ms`);
  });

  it('secrets are masked in the text sent', async () => {
    const s = webhookSender(hook.url, { backoffMs: 10 });
    s.send('cannot connect to postgres://loader:Sekr3tXq@db:5432/shop');
    await s.flush();
    expect(hook.texts().at(-1)).toBe('cannot connect to postgres://loader:***@db:5432/shop');
  });
});

describe('lag alerts', () => {
  let hook: WebhookServer;
  let db: pg.Client;
  let url: string;
  beforeAll(async () => {
    hook = await webhookServer('/hooks/lag');
    url = await freshMetadataDb();
    db = new pg.Client({ connectionString: url });
    await db.connect();
    const job = await db.query(`INSERT INTO jobs (name, source_connection_string, destination_connection_string) VALUES ('shop', 'env:A', 'env:B') RETURNING id`);
    await db.query(`INSERT INTO schedule_events (job_id, frequency) VALUES ($1, 600)`, [job.rows[0].id]);
    await db.query(
      `INSERT INTO tables (job_id, source_name, copy_mode, primary_key, last_synced_at) VALUES
         ($1, 'orders', 'INSERT_ONLY', 'id', '2026-01-15 10:00:00+00'), ($1, 'fresh', 'INSERT_ONLY', 'id', '2026-01-15 11:55:00+00')`,
      [job.rows[0].id],
    );
  });
  afterAll(async () => {
    await db.end();
    await hook.close();
  });

  it('one BEHIND message per table that falls behind, from one of two workers; one CAUGHT UP when it is back', async () => {
    const env = { ALERT_LAG_SECONDS: 3600, ALERT_WEBHOOK_URL: hook.url };
    const now = new Date('2026-01-15T12:00:00Z');
    const other = new pg.Pool({ connectionString: url, max: 2 });
    const { log } = captureLog();
    try {
      // orders was due at 10:10 and is 1 h 50 min overdue (> 3600 s); fresh is not due before 12:05.
      const sent = await Promise.all([checkLagAlerts(db, env, log, now), checkLagAlerts(other, env, log, now), checkLagAlerts(other, env, log, now)]);
      expect(sent.reduce((a, b) => a + b, 0)).toBe(1);
      await flushAlerts();
      expect(hook.texts()).toEqual([
        'redshift-loader: BEHIND job "shop", table public.orders: its sync was due at 2026-01-15 10:10:00 UTC and is 110 min overdue (last success 2026-01-15 10:00:00 UTC; ALERT_LAG_SECONDS = 3600).',
      ]);
      expect(await checkLagAlerts(db, env, log, new Date('2026-01-15T12:30:00Z'))).toBe(0);
      await db.query(`UPDATE tables SET last_synced_at = '2026-01-15 12:29:00+00' WHERE source_name = 'orders'`);
      expect(await checkLagAlerts(db, env, log, new Date('2026-01-15T12:30:00Z'))).toBe(1);
      await flushAlerts();
      expect(hook.texts()[1]).toBe('redshift-loader: CAUGHT UP job "shop", table public.orders is no longer behind (last success 2026-01-15 12:29:00 UTC).');
      expect((await db.query(`SELECT source_name, alert_behind FROM tables ORDER BY 1`)).rows).toEqual([
        { source_name: 'fresh', alert_behind: false },
        { source_name: 'orders', alert_behind: false },
      ]);
    } finally {
      await other.end();
    }
  });
});

describe('failure alerts of a job without a schedule (run from cron with sync)', () => {
  it('say that the next sync retries the table, once; and recover once', async () => {
    const hook = await webhookServer('/hooks/cron');
    const db = new pg.Client({ connectionString: await freshMetadataDb() });
    await db.connect();
    try {
      const job = await db.query(`INSERT INTO jobs (name, source_connection_string, destination_connection_string) VALUES ('cron', 'env:A', 'env:B') RETURNING id`);
      const t = await db.query(`INSERT INTO tables (job_id, source_name, copy_mode, primary_key) VALUES ($1, 'orders', 'INSERT_ONLY', 'id') RETURNING id`, [job.rows[0].id]);
      const table = { id: t.rows[0].id as number, sourceSchema: 'public', sourceName: 'orders' };
      const deps = { env: { ALERT_WEBHOOK_URL: hook.url }, log: captureLog().log };
      expect((await tableFailed(db, 'cron', table, 'job "cron", table public.orders: boom', deps)).failureCount).toBe(1);
      expect((await tableFailed(db, 'cron', table, 'job "cron", table public.orders: boom', deps)).failureCount).toBe(2);
      await tableSucceeded(db, 'cron', table, deps);
      await tableSucceeded(db, 'cron', table, deps);
      await flushAlerts();
      expect(hook.texts()).toEqual([
        'redshift-loader: FAILED job "cron", table public.orders: boom\nThe job has no schedule: the next redshift-loader sync retries it. You will get one message when it recovers.',
        'redshift-loader: RECOVERED job "cron", table public.orders synced again after 2 failed attempt(s).',
      ]);
    } finally {
      await db.end();
      await hook.close();
    }
  });
});
