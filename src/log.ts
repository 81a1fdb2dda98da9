import { pino, type Logger } from 'pino';
import { redactSecrets } from './secrets.js';

export type { Logger };

/** Masks secrets inside free text (src/secrets.ts): passwords in any form of URL or option, AWS keys and tokens, registered values. */
export function redactText(text: string): string {
  return redactSecrets(text);
}

function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactText(value);
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    return { type: value.name, message: redactText(value.message), stack: value.stack ? redactText(value.stack) : undefined, ...scrubObject(value as unknown as Record<string, unknown>, depth) };
  }
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  return scrubObject(value as Record<string, unknown>, depth);
}

function scrubObject(obj: Record<string, unknown>, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) out[k] = scrub(v, depth + 1);
  return out;
}

export const REDACT_PATHS = [
  'password',
  '*.password',
  'secretAccessKey',
  '*.secretAccessKey',
  'AWS_SECRET_ACCESS_KEY',
  '*.AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  '*.AWS_SESSION_TOKEN',
  'credentials',
  '*.credentials',
];

export interface LoggerOptions {
  level?: string;
  /** Where to write; defaults to stdout (pretty when stdout is a TTY). */
  destination?: NodeJS.WritableStream;
  pretty?: boolean;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const pretty = opts.pretty ?? (opts.destination === undefined && process.stdout.isTTY === true);
  const base = {
    level: opts.level ?? 'info',
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '***' },
    formatters: {
      level: (label: string) => ({ level: label }),
      log: (obj: Record<string, unknown>) => scrubObject(obj, 0),
    },
    hooks: {
      logMethod(this: Logger, args: unknown[], method: (...a: unknown[]) => void) {
        const first = args[0];
        // A child logger already carries its bindings (job, table): a key repeated with the
        // same value in the call would be written twice in the JSON line.
        if (first && typeof first === 'object' && !(first instanceof Error) && !Array.isArray(first)) {
          const bound = this.bindings();
          const obj = first as Record<string, unknown>;
          if (Object.keys(obj).some((k) => k in bound && bound[k] === obj[k])) {
            args = [Object.fromEntries(Object.entries(obj).filter(([k, v]) => !(k in bound && bound[k] === v))), ...args.slice(1)];
          }
        }
        method.apply(this, args.map((a) => (typeof a === 'string' ? redactText(a) : a)));
      },
    },
  };
  if (pretty) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss' } } });
  }
  return pino(base, (opts.destination ?? process.stdout) as pino.DestinationStream);
}
