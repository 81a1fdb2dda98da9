import { matchesAt, parseAt, validateTimezone, type AtPattern } from './at-pattern.js';

/**
 * Due-ness of a schedule_events row. Pure: the caller passes the clock.
 *
 * Everything the decision depends on is in the row (config + run state), so re-reading
 * rows can never by itself make a job run: the same row at the same `now` gives the same
 * answer whether it was read a second or an hour ago.
 */

/** The user-edited part of a schedule_events row. */
export interface ScheduleConfig {
  frequency: number;
  at: string | null;
  timezone: string;
}

/** The worker-written part of a schedule_events row. */
export interface ScheduleState {
  /** Start time of the last run that succeeded (null: never). */
  lastSucceededAt: Date | null;
  /** Consecutive failures since the last success. */
  failureCount: number;
  /** After a failure: not retried before this time (null: no backoff pending). */
  retryAt: Date | null;
}

export class ScheduleError extends Error {
  override name = 'ScheduleError';
}

export type DueReason = 'never-succeeded' | 'frequency-elapsed';
export type NotDueReason = 'backing-off' | 'too-soon' | 'outside-at-window';

export type DueDecision = { due: true; reason: DueReason } | { due: false; reason: NotDueReason };

export interface ParsedSchedule {
  frequency: number;
  at: AtPattern[] | null;
  timezone: string;
}

const parsedCache = new Map<string, ParsedSchedule>();

/** Validates frequency, `at` and timezone; throws AtPatternError/TimezoneError/ScheduleError. */
export function parseSchedule(event: ScheduleConfig): ParsedSchedule {
  const key = `${event.frequency}\u0000${event.at ?? ''}\u0000${event.timezone}`;
  const hit = parsedCache.get(key);
  if (hit) return hit;
  if (typeof event.frequency !== 'number' || !Number.isInteger(event.frequency) || event.frequency <= 0) {
    throw new ScheduleError(`bad frequency ${JSON.stringify(event.frequency)}: must be a whole number of seconds greater than 0`);
  }
  validateTimezone(event.timezone);
  const parsed: ParsedSchedule = { frequency: event.frequency, at: parseAt(event.at), timezone: event.timezone };
  if (parsedCache.size > 1000) parsedCache.clear();
  parsedCache.set(key, parsed);
  return parsed;
}

export function isDue(event: ScheduleConfig, now: Date, state: ScheduleState): DueDecision {
  const s = parseSchedule(event);
  const t = now.getTime();
  if (state.retryAt !== null && t < state.retryAt.getTime()) return { due: false, reason: 'backing-off' };
  let reason: DueReason = 'never-succeeded';
  if (state.lastSucceededAt !== null) {
    // At most once per frequency and never early, `at` or not: measured from the start of
    // the last successful run. (A minute-anchored measure let an `at` job run on every tick
    // of a matching minute when frequency < 60 s, and any job up to 59 s early.) A daily job
    // therefore starts up to one tick later each day; if that ever carries it past its
    // window, it runs when the window opens the next day.
    const last = state.lastSucceededAt.getTime();
    if (t - last < s.frequency * 1000) return { due: false, reason: 'too-soon' };
    reason = 'frequency-elapsed';
  }
  if (!matchesAt(s.at, now, s.timezone)) return { due: false, reason: 'outside-at-window' };
  return { due: true, reason };
}

export const BACKOFF_BASE_SECONDS = 30;
export const BACKOFF_MAX_SECONDS = 3600;

/**
 * Seconds to wait after the `failureCount`-th consecutive failure: 30 s doubling, capped at
 * the event's frequency (but never below 30 s: a failing job never retries in a tight loop)
 * and at one hour.
 */
export function backoffSeconds(failureCount: number, frequency: number): number {
  const n = Math.max(1, Math.floor(failureCount));
  const raw = BACKOFF_BASE_SECONDS * 2 ** Math.min(n - 1, 20);
  const cap = Math.min(Math.max(frequency, BACKOFF_BASE_SECONDS), BACKOFF_MAX_SECONDS);
  return Math.min(raw, cap);
}

/** The state to write after a run that started at `startedAt` and ended at `finishedAt`. */
export function stateAfterRun(
  previous: ScheduleState,
  outcome: 'succeeded' | 'failed' | 'interrupted',
  startedAt: Date,
  finishedAt: Date,
  frequency: number,
): ScheduleState {
  if (outcome === 'succeeded') return { lastSucceededAt: startedAt, failureCount: 0, retryAt: null };
  // Cut off by a shutdown: not the job's fault, so no backoff; another worker may take it.
  if (outcome === 'interrupted') return { ...previous, retryAt: null };
  const failureCount = previous.failureCount + 1;
  return {
    lastSucceededAt: previous.lastSucceededAt,
    failureCount,
    retryAt: new Date(finishedAt.getTime() + backoffSeconds(failureCount, frequency) * 1000),
  };
}
