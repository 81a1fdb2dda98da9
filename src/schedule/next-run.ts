import { matchesAt } from './at-pattern.js';
import { parseSchedule, type ScheduleConfig, type ScheduleState } from './due.js';

/**
 * When a schedule next runs, for `status` and for the lag check. Pure; the same rules as
 * `isDue` (due.ts): at most once per frequency measured from the last successful run's
 * start, not before retry_at, and only inside the `at` window.
 */

const MINUTE = 60_000;
/** `at` patterns are times of day; with a DST change a window can be up to a day and an hour away. */
const SCAN_MINUTES = 3 * 24 * 60;

/** The first instant at or after `t` inside the schedule's `at` window (`t` itself without one); null if none within 3 days. */
export function firstInWindow(event: ScheduleConfig, t: Date): Date | null {
  const s = parseSchedule(event);
  if (s.at === null || matchesAt(s.at, t, s.timezone)) return t;
  let m = Math.floor(t.getTime() / MINUTE) * MINUTE + MINUTE;
  for (let i = 0; i < SCAN_MINUTES; i++, m += MINUTE) {
    const d = new Date(m);
    if (matchesAt(s.at, d, s.timezone)) return d;
  }
  return null;
}

/** When the worker next runs this schedule (at its first tick after this instant); `now` or earlier when due. Throws on a bad row, as isDue does. */
export function nextRunAt(event: ScheduleConfig & ScheduleState, now: Date): Date | null {
  let t = now.getTime();
  if (event.lastSucceededAt) t = Math.max(t, event.lastSucceededAt.getTime() + event.frequency * 1000);
  if (event.retryAt) t = Math.max(t, event.retryAt.getTime());
  return firstInWindow(event, new Date(t));
}

/**
 * When a table's next sync was due by its job's schedules, counting from its last success
 * (or from when the row was added): the earliest over the schedules of the first instant,
 * a frequency after it, inside the schedule's window. null: no valid schedule.
 */
export function tableDueAt(events: readonly ScheduleConfig[], since: Date): Date | null {
  let best: Date | null = null;
  for (const e of events) {
    let d: Date | null;
    try {
      d = firstInWindow(e, new Date(since.getTime() + e.frequency * 1000));
    } catch {
      continue;
    }
    if (d && (!best || d < best)) best = d;
  }
  return best;
}
