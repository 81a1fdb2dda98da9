/**
 * The `at` column of schedule_events: null, or a comma list of `HH:MM` patterns where `*`
 * is a wildcard digit (`09:**,10:**`, `**:30`, `12:**`). Pure: no I/O, no clock.
 */

export class AtPatternError extends Error {
  override name = 'AtPatternError';
}

export class TimezoneError extends Error {
  override name = 'TimezoneError';
}

export interface AtPattern {
  /** The pattern as written (trimmed), for messages. */
  source: string;
  /** The hours (0-23) and minutes (0-59) this pattern matches. */
  hours: ReadonlySet<number>;
  minutes: ReadonlySet<number>;
}

const SHAPE = /^([0-9*]{2}):([0-9*]{2})$/;
const EXAMPLES = 'expected HH:MM with digits or * as a wildcard digit, e.g. 09:30, 12:**, **:30';

function digitsMatch(pattern: string, value: number): boolean {
  const text = String(value).padStart(2, '0');
  return [...pattern].every((ch, i) => ch === '*' || ch === text[i]);
}

function expand(pattern: string, max: number): Set<number> {
  const out = new Set<number>();
  for (let v = 0; v <= max; v++) if (digitsMatch(pattern, v)) out.add(v);
  return out;
}

/** Parses one `HH:MM` pattern; throws AtPatternError naming it. */
export function parseAtPattern(raw: string): AtPattern {
  const source = raw.trim();
  const m = SHAPE.exec(source);
  if (!m) throw new AtPatternError(`bad at pattern ${JSON.stringify(source)}: ${EXAMPLES}`);
  const hours = expand(m[1]!, 23);
  if (hours.size === 0) throw new AtPatternError(`bad at pattern ${JSON.stringify(source)}: hour ${m[1]} never matches (hours are 00-23)`);
  const minutes = expand(m[2]!, 59);
  if (minutes.size === 0) throw new AtPatternError(`bad at pattern ${JSON.stringify(source)}: minute ${m[2]} never matches (minutes are 00-59)`);
  return { source, hours, minutes };
}

/**
 * Parses the whole `at` value. null, empty or blank means "any time" (returns null).
 * Throws AtPatternError naming the first bad pattern.
 */
export function parseAt(value: string | null | undefined): AtPattern[] | null {
  if (value === null || value === undefined || value.trim() === '') return null;
  const parts = value.split(',');
  return parts.map((part, i) => {
    if (part.trim() === '') {
      throw new AtPatternError(`bad at value ${JSON.stringify(value)}: empty pattern at position ${i + 1} (remove the extra comma)`);
    }
    return parseAtPattern(part);
  });
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Throws TimezoneError for a name Intl does not know (IANA names like UTC, America/New_York). */
export function validateTimezone(timezone: string): Intl.DateTimeFormat {
  const cached = formatters.get(timezone);
  if (cached) return cached;
  if (typeof timezone !== 'string' || timezone.trim() === '') {
    throw new TimezoneError(`bad timezone ${JSON.stringify(timezone)}: expected an IANA name like UTC or America/New_York`);
  }
  let fmt: Intl.DateTimeFormat;
  try {
    fmt = new Intl.DateTimeFormat('en-US', { timeZone: timezone, hourCycle: 'h23', hour: '2-digit', minute: '2-digit' });
  } catch {
    throw new TimezoneError(`unknown timezone ${JSON.stringify(timezone)}: expected an IANA name like UTC or America/New_York`);
  }
  formatters.set(timezone, fmt);
  return fmt;
}

/** The wall-clock hour and minute of `date` in `timezone`. */
export function localTime(date: Date, timezone: string): { hour: number; minute: number } {
  const parts = validateTimezone(timezone).formatToParts(date);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  // Some ICU versions print midnight as 24 even with h23.
  return { hour: get('hour') % 24, minute: get('minute') };
}

/** True when the time of `date` in `timezone` matches one of the patterns (null = always). */
export function matchesAt(patterns: readonly AtPattern[] | string | null, date: Date, timezone: string): boolean {
  const parsed = typeof patterns === 'string' ? parseAt(patterns) : patterns;
  const { hour, minute } = localTime(date, timezone);
  if (parsed === null) return true;
  return parsed.some((p) => p.hours.has(hour) && p.minutes.has(minute));
}
