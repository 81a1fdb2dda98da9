import { ConfigError, loadEnv, type Env, type EnvName } from '../config/env.js';
import { createLogger, type Logger } from '../log.js';
import { registerSecretsFromEnv } from '../secrets.js';
import { errorReport } from './errors.js';

export interface CommandContext {
  env: Env;
  log: Logger;
}

export interface CommandOptions {
  /**
   * Where log lines go. `stderr` for commands whose stdout is their product (SQL to pipe
   * into a file or psql, a status table, a password): log lines must not mix into it.
   * `stdout` (sync, worker): the JSON log is the output, as on Heroku or in Docker.
   */
  logs?: 'stdout' | 'stderr';
  /**
   * What the command needs of the metadata DB before it starts: `migrated` (the default when
   * DATABASE_URL is required), `reachable` (migrate, worker), `none`.
   */
  metadata?: 'migrated' | 'reachable' | 'none';
  /** The log level when LOG_LEVEL is not set (a person at a terminal wants fewer lines). */
  defaultLevel?: Env['LOG_LEVEL'];
}

/**
 * Parses the env this command needs, checks the metadata DB, builds the logger, runs `fn`
 * and maps errors to exit codes: 0 ok, 1 a failure, 2 bad configuration or usage. An
 * expected error is one line on stderr (`redshift-loader: ...`, saying what to do); a
 * stack is printed only for a bug or with LOG_LEVEL=debug. Nothing of it goes to stdout.
 */
export async function runCommand(required: readonly EnvName[], fn: (ctx: CommandContext) => Promise<number | void>, opts: CommandOptions = {}): Promise<void> {
  registerSecretsFromEnv(process.env);
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
  const level = process.env.LOG_LEVEL ? env.LOG_LEVEL : (opts.defaultLevel ?? env.LOG_LEVEL);
  const log = createLogger({ level, ...(opts.logs === 'stderr' ? { destination: process.stderr } : {}) });
  try {
    const metadata = opts.metadata ?? (required.includes('DATABASE_URL') ? 'migrated' : 'none');
    if (metadata !== 'none' && env.DATABASE_URL) {
      const { requireMigratedMetadataDb, requireReachableMetadataDb } = await import('../db/metadata-check.js');
      const t = { connectSeconds: env.CONNECT_TIMEOUT_SECONDS };
      await (metadata === 'migrated' ? requireMigratedMetadataDb(env.DATABASE_URL, t) : requireReachableMetadataDb(env.DATABASE_URL, t));
    }
    const code = await fn({ env, log });
    process.exitCode = code ?? 0;
  } catch (err) {
    const r = errorReport(err, { debug: env.LOG_LEVEL === 'debug' || env.LOG_LEVEL === 'trace' });
    process.stderr.write(r.text);
    process.exitCode = r.exitCode;
  } finally {
    log.flush?.();
  }
}
