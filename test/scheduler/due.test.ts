import { describe, expect, it } from 'vitest';
import { AtPatternError, TimezoneError } from '../../src/schedule/at-pattern.js';
import { ScheduleError, backoffSeconds, isDue, stateAfterRun, type ScheduleConfig, type ScheduleState } from '../../src/schedule/due.js';

const NEVER: ScheduleState = { lastSucceededAt: null, failureCount: 0, retryAt: null };
const ok = (at: Date): ScheduleState => ({ lastSucceededAt: at, failureCount: 0, retryAt: null });
const d = (iso: string) => new Date(iso);

/**
 * Drives isDue like the worker does: a tick every `tickSeconds` (starting `offsetSeconds`
 * in), each due tick "runs" the job, which succeeds and takes `runSeconds`. Returns the
 * start times.
 */
function simulate(event: ScheduleConfig, fromIso: string, toIso: string, tickSeconds: number, offsetSeconds = 0, runSeconds = 0): string[] {
  const runs: string[] = [];
  let state = NEVER;
  let busyUntil = 0;
  for (let t = Date.parse(fromIso) + offsetSeconds * 1000; t < Date.parse(toIso); t += tickSeconds * 1000) {
    if (t < busyUntil) continue;
    const now = new Date(t);
    if (isDue(event, now, state).due) {
      runs.push(now.toISOString());
      state = stateAfterRun(state, 'succeeded', now, new Date(t + runSeconds * 1000), event.frequency);
      busyUntil = t + runSeconds * 1000;
    }
  }
  return runs;
}

describe('isDue: frequency', () => {
  const ev: ScheduleConfig = { frequency: 3600, at: null, timezone: 'UTC' };

  it('is due when it never succeeded', () => {
    expect(isDue(ev, d('2026-01-15T10:00:00Z'), NEVER)).toEqual({ due: true, reason: 'never-succeeded' });
  });

  it('is due once frequency seconds have passed since the last success', () => {
    const last = d('2026-01-15T10:00:00Z');
    expect(isDue(ev, d('2026-01-15T10:59:59Z'), ok(last))).toEqual({ due: false, reason: 'too-soon' });
    expect(isDue(ev, d('2026-01-15T11:00:00Z'), ok(last))).toEqual({ due: true, reason: 'frequency-elapsed' });
  });

  it('runs every frequency seconds, at tick resolution', () => {
    const runs = simulate({ frequency: 60, at: null, timezone: 'UTC' }, '2026-01-15T10:00:00Z', '2026-01-15T10:05:00Z', 5);
    expect(runs).toEqual(['10:00', '10:01', '10:02', '10:03', '10:04'].map((m) => `2026-01-15T${m}:00.000Z`));
  });
});

describe('isDue: at windows', () => {
  it('frequency 3600 with 09:** runs once in the 09:00-09:59 window each day, not every tick', () => {
    const runs = simulate({ frequency: 3600, at: '09:**', timezone: 'UTC' }, '2026-01-15T00:00:00Z', '2026-01-18T00:00:00Z', 5);
    expect(runs).toEqual(['2026-01-15T09:00:00.000Z', '2026-01-16T09:00:00.000Z', '2026-01-17T09:00:00.000Z']);
  });

  it('a daily 09:** job with tick jitter and long runs does not drift out of its window', () => {
    // Ticks at 7 s starting 4 s in, runs of two hours: every day, once, at 09:00:0x.
    const runs = simulate({ frequency: 86400, at: '09:**', timezone: 'UTC' }, '2026-01-01T00:00:00Z', '2026-01-31T00:00:00Z', 7, 4, 7200);
    expect(runs).toHaveLength(30);
    for (const r of runs) expect(r).toMatch(/T09:00:\d\d/);
  });

  it('with `at` and a frequency under a minute, runs once per frequency, not on every tick of the minute', () => {
    const runs = simulate({ frequency: 20, at: '10:**', timezone: 'UTC' }, '2026-01-15T10:00:00Z', '2026-01-15T10:00:45Z', 5);
    expect(runs).toEqual(['10:00:00', '10:00:20', '10:00:40'].map((m) => `2026-01-15T${m}.000Z`));
  });

  it('never early: measured from the last successful start, not from the start of its minute', () => {
    const ev = { frequency: 3600, at: '**:**', timezone: 'UTC' };
    const last = ok(d('2026-01-15T09:00:40Z'));
    expect(isDue(ev, d('2026-01-15T10:00:10Z'), last)).toEqual({ due: false, reason: 'too-soon' });
    expect(isDue(ev, d('2026-01-15T10:00:39Z'), last)).toEqual({ due: false, reason: 'too-soon' });
    expect(isDue(ev, d('2026-01-15T10:00:40Z'), last)).toEqual({ due: true, reason: 'frequency-elapsed' });
  });

  it('**:30 runs at half past each hour', () => {
    const runs = simulate({ frequency: 60, at: '**:30', timezone: 'UTC' }, '2026-01-15T10:00:00Z', '2026-01-15T13:00:00Z', 5);
    expect(runs).toEqual(['10:30', '11:30', '12:30'].map((m) => `2026-01-15T${m}:00.000Z`));
  });

  it('09:**,10:** with frequency 1800 runs four times a day', () => {
    const runs = simulate({ frequency: 1800, at: '09:**,10:**', timezone: 'UTC' }, '2026-01-15T00:00:00Z', '2026-01-16T00:00:00Z', 5);
    expect(runs).toEqual(['09:00', '09:30', '10:00', '10:30'].map((m) => `2026-01-15T${m}:00.000Z`));
  });

  it('is not due outside the window even when the frequency has elapsed', () => {
    const ev = { frequency: 60, at: '12:**', timezone: 'UTC' };
    expect(isDue(ev, d('2026-01-15T13:00:00Z'), NEVER)).toEqual({ due: false, reason: 'outside-at-window' });
    expect(isDue(ev, d('2026-01-15T12:00:00Z'), NEVER).due).toBe(true);
  });

  it('crosses the day boundary (23:5x -> 00:0x)', () => {
    const ev = { frequency: 600, at: '23:5*,00:0*', timezone: 'UTC' };
    const last = ok(d('2026-01-15T23:55:00Z'));
    expect(isDue(ev, d('2026-01-16T00:04:59Z'), last)).toEqual({ due: false, reason: 'too-soon' });
    expect(isDue(ev, d('2026-01-16T00:05:00Z'), last)).toEqual({ due: true, reason: 'frequency-elapsed' });
    expect(isDue(ev, d('2026-01-16T00:10:00Z'), last)).toEqual({ due: false, reason: 'outside-at-window' });
    const runs = simulate(ev, '2026-01-15T23:00:00Z', '2026-01-16T01:00:00Z', 5);
    expect(runs).toEqual(['2026-01-15T23:50:00.000Z', '2026-01-16T00:00:00.000Z']);
  });

  it('uses the event timezone: America/New_York vs UTC', () => {
    const ny = { frequency: 86400, at: '09:**', timezone: 'America/New_York' };
    // 09:00 in New York in January is 14:00 UTC.
    expect(isDue(ny, d('2026-01-15T09:30:00Z'), NEVER).due).toBe(false);
    expect(isDue(ny, d('2026-01-15T14:30:00Z'), NEVER).due).toBe(true);
    expect(isDue({ ...ny, timezone: 'UTC' }, d('2026-01-15T14:30:00Z'), NEVER).due).toBe(false);
    const runs = simulate(ny, '2026-01-15T00:00:00Z', '2026-01-17T00:00:00Z', 5);
    expect(runs).toEqual(['2026-01-15T14:00:00.000Z', '2026-01-16T14:00:00.000Z']);
  });
});

describe('isDue: failures and backoff', () => {
  it('backs off 30 s doubling, capped at the frequency (min 30 s) and one hour', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffSeconds(n, 86400))).toEqual([30, 60, 120, 240, 480, 960, 1920, 3600]);
    expect([1, 2, 3, 4].map((n) => backoffSeconds(n, 100))).toEqual([30, 60, 100, 100]);
    expect([1, 2, 50].map((n) => backoffSeconds(n, 5))).toEqual([30, 30, 30]);
  });

  it('a failed run is retried after its backoff and never moves last_succeeded_at', () => {
    const ev = { frequency: 60, at: null, timezone: 'UTC' };
    const start = d('2026-01-15T10:00:00Z');
    const end = d('2026-01-15T10:00:10Z');
    const prev = ok(d('2026-01-15T09:00:00Z'));
    const s1 = stateAfterRun(prev, 'failed', start, end, 60);
    expect(s1).toEqual({ lastSucceededAt: prev.lastSucceededAt, failureCount: 1, retryAt: d('2026-01-15T10:00:40Z') });
    expect(isDue(ev, d('2026-01-15T10:00:39Z'), s1)).toEqual({ due: false, reason: 'backing-off' });
    expect(isDue(ev, d('2026-01-15T10:00:40Z'), s1).due).toBe(true);
    const s2 = stateAfterRun(s1, 'failed', d('2026-01-15T10:00:40Z'), d('2026-01-15T10:00:41Z'), 60);
    expect(s2.failureCount).toBe(2);
    expect(s2.retryAt).toEqual(d('2026-01-15T10:01:41Z'));
    expect(stateAfterRun(s2, 'succeeded', d('2026-01-15T10:02:00Z'), d('2026-01-15T10:03:00Z'), 60)).toEqual(ok(d('2026-01-15T10:02:00Z')));
  });

  it('a run interrupted by shutdown is not counted as a failure', () => {
    const s = stateAfterRun({ lastSucceededAt: null, failureCount: 2, retryAt: d('2026-01-15T10:00:00Z') }, 'interrupted', d('2026-01-15T10:00:00Z'), d('2026-01-15T10:00:05Z'), 60);
    expect(s).toEqual({ lastSucceededAt: null, failureCount: 2, retryAt: null });
  });

  it('a failing job in an at window retries with backoff, not every tick', () => {
    const ev = { frequency: 86400, at: '09:**', timezone: 'UTC' };
    const attempts: string[] = [];
    let state = NEVER;
    for (let t = Date.parse('2026-01-15T08:00:00Z'); t < Date.parse('2026-01-15T12:00:00Z'); t += 5000) {
      const now = new Date(t);
      if (isDue(ev, now, state).due) {
        attempts.push(now.toISOString().slice(11, 19));
        state = stateAfterRun(state, 'failed', now, now, ev.frequency);
      }
    }
    expect(attempts).toEqual(['09:00:00', '09:00:30', '09:01:30', '09:03:30', '09:07:30', '09:15:30', '09:31:30']);
  });
});

describe('isDue: bad rows', () => {
  it.each([0, -5, 1.5, Number.NaN])('rejects frequency %s', (frequency) => {
    expect(() => isDue({ frequency, at: null, timezone: 'UTC' }, new Date(), NEVER)).toThrow(ScheduleError);
    expect(() => isDue({ frequency, at: null, timezone: 'UTC' }, new Date(), NEVER)).toThrow(/bad frequency .*: must be a whole number of seconds greater than 0/);
  });

  it('rejects bad at patterns and timezones, even outside backoff', () => {
    expect(() => isDue({ frequency: 60, at: '9:00', timezone: 'UTC' }, new Date(), NEVER)).toThrow(AtPatternError);
    expect(() => isDue({ frequency: 60, at: null, timezone: 'Nowhere/Land' }, new Date(), NEVER)).toThrow(TimezoneError);
  });
});
