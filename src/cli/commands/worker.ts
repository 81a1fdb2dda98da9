import type { Command } from 'commander';
import { runCommand } from '../context.js';

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('run the scheduler: sync each job when its schedule_events row says it is due, until SIGTERM')
    .option('--no-migrate', 'do not apply pending metadata migrations at start')
    .action((opts: { migrate: boolean }) =>
      runCommand(['DATABASE_URL'], async ({ env, log }) => {
        const { migrate } = await import('../../db/migrate.js');
        const { startWorker, DEFAULT_GRACE_MS } = await import('../../scheduler/worker.js');
        const { makeWorkerId } = await import('../../scheduler/claims.js');
        const { syncRunner } = await import('../../scheduler/run-job.js');
        if (opts.migrate) await migrate(env.DATABASE_URL!, log);
        const workerId = makeWorkerId();
        const worker = startWorker({ metadataUrl: env.DATABASE_URL!, env, log, workerId, runJob: syncRunner(env.DATABASE_URL!, env, log, workerId) });
        log.info({ worker: worker.id, tickSeconds: env.WORKER_TICK_SECONDS, concurrency: env.WORKER_CONCURRENCY }, 'worker started');
        await new Promise<void>((resolve) => {
          const stop = (signal: string) => {
            log.info({ signal, graceMs: DEFAULT_GRACE_MS }, 'stopping: no new work; in-flight batches finish or are abandoned before their Redshift commit');
            void worker.stop().then(resolve);
          };
          process.once('SIGTERM', () => stop('SIGTERM'));
          process.once('SIGINT', () => stop('SIGINT'));
        });
        log.info('worker stopped');
        return 0;
      }, { metadata: opts.migrate ? 'reachable' : 'migrated' }),
    );
}
