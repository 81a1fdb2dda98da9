import type pg from 'pg';
import type { Env } from '../config/env.js';
import type { Logger } from '../log.js';
import { collectHealth, humanSeconds, utcText } from './health.js';
import { alertSender } from '../alerts/webhook.js';

/**
 * The worker's lag alerts, checked every SYNC_DB_EVENTS_FREQUENCY seconds: a table whose
 * sync is overdue by more than ALERT_LAG_SECONDS (the same rule as `status`, health.ts)
 * gets one "BEHIND" message, and one "CAUGHT UP" message when it is no longer behind. The
 * state is tables.alert_behind, flipped by a conditional UPDATE: of several workers (or a
 * restarted one) exactly one sends each message.
 */
export async function checkLagAlerts(db: Pick<pg.ClientBase, 'query'>, env: Pick<Env, 'ALERT_LAG_SECONDS' | 'ALERT_WEBHOOK_URL'>, log: Logger, now = new Date()): Promise<number> {
  const h = await collectHealth(db, { lagThresholdSeconds: env.ALERT_LAG_SECONDS, now });
  const sender = alertSender(env, log);
  let sent = 0;
  for (const t of h.tables) {
    const judged = t.state !== 'not judged';
    const behind = judged && t.overdueSeconds !== null && t.overdueSeconds > env.ALERT_LAG_SECONDS;
    if (behind === t.alertBehind) continue;
    const flipped = await db.query(`UPDATE "tables" SET "alert_behind" = $2 WHERE "id" = $1 AND "alert_behind" = $3`, [t.tableId, behind, !behind]);
    if (flipped.rowCount !== 1 || !judged) continue;
    const where = `job "${t.job}", table ${t.table}`;
    const text = behind
      ? `redshift-loader: BEHIND ${where}: its sync was due at ${utcText(t.dueAt)} and is ${humanSeconds(t.overdueSeconds!)} overdue (last success ${utcText(t.lastSuccess)}; ALERT_LAG_SECONDS = ${env.ALERT_LAG_SECONDS}).${t.state === 'failing' ? ' It is failing: see `redshift-loader status`.' : ''}`
      : `redshift-loader: CAUGHT UP ${where} is no longer behind (last success ${utcText(t.lastSuccess)}).`;
    log.info({ job: t.job, table: t.table, behind, overdueSeconds: t.overdueSeconds }, behind ? 'table is behind (ALERT_LAG_SECONDS)' : 'table caught up');
    if (sender) {
      sender.send(text);
      sent++;
    }
  }
  return sent;
}
