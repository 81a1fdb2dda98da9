import type { Logger } from '../log.js';
import { redactSecrets, registerSecret } from '../secrets.js';

/**
 * Alerts to a webhook (ALERT_WEBHOOK_URL): one POST of Slack's incoming-webhook JSON,
 * `{"text": "..."}`, which Slack, Mattermost, Rocket.Chat, Discord's /slack endpoint and most
 * chat tools accept. Sending never blocks or fails a sync: `send` returns at once, each
 * attempt has a timeout, failures are retried with backoff and then logged (without the
 * URL, which is itself a secret). `flush` waits for what is in flight (a CLI run calls it
 * before exiting; the worker on shutdown).
 */
export interface AlertSender {
  send(text: string): void;
  /** Waits for alerts in flight, at most `timeoutMs`. */
  flush(timeoutMs?: number): Promise<void>;
}

export interface WebhookOptions {
  /** Per attempt. Default 5 s. */
  timeoutMs?: number;
  /** Attempts per alert. Default 3. */
  attempts?: number;
  /** First retry delay, doubled each time. Default 1 s. */
  backoffMs?: number;
  log?: Logger;
}

const MAX_TEXT = 3000;

export function webhookSender(url: string, opts: WebhookOptions = {}): AlertSender {
  registerSecret(url);
  const timeoutMs = opts.timeoutMs ?? 5000;
  const attempts = opts.attempts ?? 3;
  const backoffMs = opts.backoffMs ?? 1000;
  const pending = new Set<Promise<void>>();
  const where = (() => {
    try {
      return new URL(url).host;
    } catch {
      return 'the webhook';
    }
  })();

  async function deliver(text: string): Promise<void> {
    const body = JSON.stringify({ text });
    let last = '';
    for (let i = 1; i <= attempts; i++) {
      try {
        const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(timeoutMs) });
        await r.body?.cancel().catch(() => undefined);
        if (r.ok) return;
        last = `HTTP ${r.status}`;
        // A client error other than rate limiting will not get better by retrying.
        if (r.status < 500 && r.status !== 429) break;
      } catch (err) {
        last = err instanceof Error ? (err.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : err.message) : String(err);
      }
      if (i < attempts) await new Promise((res) => setTimeout(res, backoffMs * 2 ** (i - 1)).unref());
    }
    opts.log?.warn({ alertTo: where, err: redactSecrets(last) }, `alert not delivered to ${where} after ${attempts} attempt(s): ${redactSecrets(last)}`);
  }

  return {
    send(text: string) {
      const clean = redactSecrets(text);
      const p = deliver(clean.length > MAX_TEXT ? `${clean.slice(0, MAX_TEXT - 1)}…` : clean).catch(() => undefined);
      pending.add(p);
      void p.finally(() => pending.delete(p));
    },
    // Every attempt's timeout and every retry's delay, and some slack for a busy machine.
    async flush(max = timeoutMs * attempts + backoffMs * 2 ** attempts + 2000) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...pending]), new Promise<void>((res) => (timer = setTimeout(res, max)))]);
      clearTimeout(timer);
    },
  };
}

const senders = new Map<string, AlertSender>();

/** The process's sender for ALERT_WEBHOOK_URL (null when it is not set). */
export function alertSender(env: { ALERT_WEBHOOK_URL?: string }, log?: Logger): AlertSender | null {
  const url = env.ALERT_WEBHOOK_URL;
  if (!url) return null;
  let s = senders.get(url);
  if (!s) {
    s = webhookSender(url, { log });
    senders.set(url, s);
  }
  return s;
}

/** Waits for every alert in flight (before a CLI command exits, or on worker shutdown). */
export async function flushAlerts(timeoutMs?: number): Promise<void> {
  await Promise.all([...senders.values()].map((s) => s.flush(timeoutMs)));
}
