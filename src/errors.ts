/**
 * The two errors every layer may throw for the CLI to report (src/cli/errors.ts): one
 * line on stderr and an exit code.
 */

/** Bad usage or configuration (exit 2): a wrong option, an unknown job, a missing file. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** An expected failure whose message says what to do (exit 1). */
export class CommandError extends Error {
  override name = 'CommandError';
}
