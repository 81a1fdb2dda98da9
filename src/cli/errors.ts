import { redactText } from '../log.js';

/**
 * How the CLI reports an error: one line on stderr, `redshift-loader: <message>`, and an
 * exit code (1 a failure, 2 bad configuration or usage). A stack trace only for what is a
 * bug (an exception no code path expects, such as a TypeError) or with LOG_LEVEL=debug.
 */

export { CommandError, UsageError } from '../errors.js';

/** Errors that mean the user's input or configuration is wrong: exit 2. */
const USAGE = new Set(['UsageError', 'ConfigError', 'ConnectionResolveError', 'MetadataError', 'UserError', 'CopyJsonError', 'PlanError', 'DesignError', 'AtPatternError', 'TimezoneError', 'ScheduleError', 'ReflectError', 'DeepCopyError']);
/** What JavaScript throws for programming mistakes: a bug in redshift-loader, reported with its stack. */
const BUGS = new Set(['TypeError', 'ReferenceError', 'RangeError', 'SyntaxError', 'EvalError', 'URIError', 'AssertionError']);

export interface Described {
  message: string;
  exitCode: 1 | 2;
  /** A bug: print the stack. */
  bug: boolean;
}

export function describeError(err: unknown): Described {
  if (!(err instanceof Error)) return { message: redactText(String(err)), exitCode: 1, bug: false };
  const message = redactText(err.message || err.name);
  if (USAGE.has(err.name) || USAGE.has(err.constructor?.name)) return { message, exitCode: 2, bug: false };
  if (BUGS.has(err.name) && !(err as { code?: unknown }).code) return { message, exitCode: 1, bug: true };
  return { message, exitCode: 1, bug: false };
}

/** The lines written to stderr for an error (the stack only for bugs or when asked for). */
export function errorReport(err: unknown, opts: { debug: boolean }): { text: string; exitCode: 1 | 2 } {
  const d = describeError(err);
  const stack = err instanceof Error && err.stack ? redactText(err.stack) : null;
  if (d.bug) {
    return {
      text: `redshift-loader: internal error (a bug in redshift-loader; please report it with the lines below): ${d.message}\n${stack ?? ''}\n`,
      exitCode: 1,
    };
  }
  return { text: `redshift-loader: ${d.message}\n${opts.debug && stack ? `${stack}\n` : ''}`, exitCode: d.exitCode };
}
