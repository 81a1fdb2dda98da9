import { ConfigError, loadEnv, type Env, type EnvName } from '../config/env.js';
import { createLogger, redactText, type Logger } from '../log.js';

export interface CommandContext {
  env: Env;
  log: Logger;
}

/** Parses the env this command needs, builds the logger, runs `fn`, maps errors to exit codes. */
/**
 * `logs: 'stderr'` is for commands whose stdout is their product (SQL to pipe into a
 * file or psql): their log lines must not mix into it.
 */
export async function runCommand(required: readonly EnvName[], fn: (ctx: CommandContext) => Promise<number | void>, opts: { logs?: 'stdout' | 'stderr' } = {}): Promise<void> {
  let env: Env;
  try {
    env = loadEnv(process.env, required);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`redshift-loader: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw err;
  }
  const log = createLogger({ level: env.LOG_LEVEL, ...(opts.logs === 'stderr' ? { destination: process.stderr } : {}) });
  try {
    const code = await fn({ env, log });
    process.exitCode = code ?? 0;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log.error({ err }, redactText(message));
    process.stderr.write(`redshift-loader: ${redactText(message)}\n`);
    process.exitCode = 1;
  } finally {
    log.flush?.();
  }
}
