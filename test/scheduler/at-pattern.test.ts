import { describe, expect, it } from 'vitest';
import { AtPatternError, TimezoneError, matchesAt, parseAt, validateTimezone } from '../../src/schedule/at-pattern.js';

const utc = (hhmm: string, day = '2026-01-15') => new Date(`${day}T${hhmm}:00Z`);

describe('parseAt', () => {
  it('treats null and blank as "any time"', () => {
    expect(parseAt(null)).toBeNull();
    expect(parseAt('')).toBeNull();
    expect(parseAt('   ')).toBeNull();
  });

  it('parses comma lists with wildcard digits', () => {
    const p = parseAt(' 09:** , 10:**')!;
    expect(p.map((x) => x.source)).toEqual(['09:**', '10:**']);
    expect([...p[0]!.hours]).toEqual([9]);
    expect(p[0]!.minutes.size).toBe(60);
    expect([...parseAt('**:30')![0]!.hours]).toHaveLength(24);
    expect([...parseAt('2*:00')![0]!.hours]).toEqual([20, 21, 22, 23]);
    expect([...parseAt('*5:00')![0]!.hours]).toEqual([5, 15]);
  });

  it.each([
    ['9:30', /bad at pattern "9:30": expected HH:MM/],
    ['09:3', /bad at pattern "09:3"/],
    ['ab:cd', /bad at pattern "ab:cd"/],
    ['0930', /bad at pattern "0930"/],
    ['25:00', /bad at pattern "25:00": hour 25 never matches \(hours are 00-23\)/],
    ['3*:00', /bad at pattern "3\*:00": hour 3\* never matches/],
    ['12:60', /bad at pattern "12:60": minute 60 never matches \(minutes are 00-59\)/],
    ['12:6*', /minute 6\* never matches/],
    ['09:**,', /bad at value "09:\*\*,": empty pattern at position 2/],
    ['09:**,24:**', /bad at pattern "24:\*\*"/],
  ])('rejects %j with a message naming it', (value, msg) => {
    expect(() => parseAt(value)).toThrow(AtPatternError);
    expect(() => parseAt(value)).toThrow(msg);
  });
});

describe('matchesAt', () => {
  it('matches hour windows and minute wildcards in UTC', () => {
    expect(matchesAt('12:**', utc('12:00'), 'UTC')).toBe(true);
    expect(matchesAt('12:**', utc('12:59'), 'UTC')).toBe(true);
    expect(matchesAt('12:**', utc('13:00'), 'UTC')).toBe(false);
    expect(matchesAt('12:**', utc('11:59'), 'UTC')).toBe(false);
    expect(matchesAt('**:30', utc('03:30'), 'UTC')).toBe(true);
    expect(matchesAt('**:30', utc('03:31'), 'UTC')).toBe(false);
    expect(matchesAt('09:**,10:**', utc('10:15'), 'UTC')).toBe(true);
    expect(matchesAt('09:**,10:**', utc('11:15'), 'UTC')).toBe(false);
    expect(matchesAt('**:*5', utc('17:45'), 'UTC')).toBe(true);
    expect(matchesAt(null, utc('17:44'), 'UTC')).toBe(true);
  });

  it('handles the day boundary (23:5x -> 00:0x), midnight as hour 00', () => {
    expect(matchesAt('23:5*', utc('23:59'), 'UTC')).toBe(true);
    expect(matchesAt('00:0*', new Date('2026-01-16T00:00:00Z'), 'UTC')).toBe(true);
    expect(matchesAt('00:0*', new Date('2026-01-16T00:10:00Z'), 'UTC')).toBe(false);
    expect(matchesAt('2*:**', utc('23:59'), 'UTC')).toBe(true);
  });

  it('reads the wall clock of the event timezone', () => {
    // 14:30 UTC in January is 09:30 in New York (EST, UTC-5) and 15:30 in Paris.
    const d = utc('14:30');
    expect(matchesAt('09:**', d, 'America/New_York')).toBe(true);
    expect(matchesAt('09:**', d, 'UTC')).toBe(false);
    expect(matchesAt('15:30', d, 'Europe/Paris')).toBe(true);
    // 03:00 UTC on the 16th is still the 15th, 22:00, in New York.
    expect(matchesAt('22:**', new Date('2026-01-16T03:00:00Z'), 'America/New_York')).toBe(true);
  });

  it('rejects unknown timezones with a clear error', () => {
    expect(() => matchesAt('09:**', utc('09:00'), 'Mars/Olympus')).toThrow(TimezoneError);
    expect(() => validateTimezone('Mars/Olympus')).toThrow(/unknown timezone "Mars\/Olympus": expected an IANA name like UTC or America\/New_York/);
    expect(() => validateTimezone('')).toThrow(TimezoneError);
    expect(() => validateTimezone('Europe/Berlin')).not.toThrow();
  });
});
