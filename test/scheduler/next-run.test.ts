import { describe, expect, it } from 'vitest';
import { isDue } from '../../src/schedule/due.js';
import { firstInWindow, nextRunAt, tableDueAt } from '../../src/schedule/next-run.js';

const d = (iso: string) => new Date(iso);
const NEVER = { lastSucceededAt: null, failureCount: 0, retryAt: null };

describe('next run of a schedule (status) agrees with isDue', () => {
  it('no window: a frequency after the last success, or now', () => {
    const ev = { frequency: 3600, at: null, timezone: 'UTC' };
    expect(nextRunAt({ ...ev, ...NEVER }, d('2026-01-15T10:00:00Z'))).toEqual(d('2026-01-15T10:00:00Z'));
    expect(nextRunAt({ ...ev, ...NEVER, lastSucceededAt: d('2026-01-15T09:30:00Z') }, d('2026-01-15T10:00:00Z'))).toEqual(d('2026-01-15T10:30:00Z'));
  });

  it('a window in another time zone, and a backoff', () => {
    const ev = { frequency: 86400, at: '09:**', timezone: 'America/New_York' };
    const next = nextRunAt({ ...ev, ...NEVER, lastSucceededAt: d('2026-01-15T14:00:30Z') }, d('2026-01-15T20:00:00Z'));
    expect(next).toEqual(d('2026-01-16T14:00:30Z'));
    expect(isDue(ev, next!, { ...NEVER, lastSucceededAt: d('2026-01-15T14:00:30Z') }).due).toBe(true);
    expect(isDue(ev, new Date(next!.getTime() - 60_000), { ...NEVER, lastSucceededAt: d('2026-01-15T14:00:30Z') }).due).toBe(false);
    const retry = d('2026-01-16T14:30:00Z');
    expect(nextRunAt({ ...ev, lastSucceededAt: null, failureCount: 2, retryAt: retry }, d('2026-01-16T14:00:00Z'))).toEqual(retry);
  });

  it('the first minute inside a window; across midnight', () => {
    expect(firstInWindow({ frequency: 60, at: '23:5*,00:0*', timezone: 'UTC' }, d('2026-01-15T12:00:00Z'))).toEqual(d('2026-01-15T23:50:00Z'));
    expect(firstInWindow({ frequency: 60, at: '**:30', timezone: 'UTC' }, d('2026-01-15T12:30:59Z'))).toEqual(d('2026-01-15T12:30:59Z'));
  });

  it("a table's due time: the earliest of its job's schedules, a frequency after its last success", () => {
    const events = [
      { frequency: 86400, at: '06:**', timezone: 'UTC' },
      { frequency: 3600, at: '12:**,13:**', timezone: 'UTC' },
    ];
    expect(tableDueAt(events, d('2026-01-15T12:10:00Z'))).toEqual(d('2026-01-15T13:10:00Z'));
    expect(tableDueAt(events, d('2026-01-15T13:10:00Z'))).toEqual(d('2026-01-16T12:00:00Z'));
    expect(tableDueAt([], d('2026-01-15T13:10:00Z'))).toBeNull();
    expect(tableDueAt([{ frequency: 60, at: '25:00', timezone: 'UTC' }], d('2026-01-15T13:10:00Z'))).toBeNull();
  });
});
