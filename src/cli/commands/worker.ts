import type { Command } from 'commander';
import type { Worker } from '../../scheduler/worker.js';
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
        const { makeWorkerId } = await import('../../metadata/claims.js');
        const { syncRunner } = await import('../../scheduler/run-job.js');
        const { checkLagAlerts } = await import('../../status/lag-alerts.js');
        const { flushAlerts } = await import('../../alerts/webhook.js');
        // The signal handlers first: a SIGTERM while migrating or starting (a deploy
        // restarting the dyno) still ends in a clean stop, not in the default kill.
        let worker: Worker | undefined;
        let stopping = false;
        const stopped = new Promise<void>((resolve) => {
          const stop = (signal: string) => {
            stopping = true;
            log.info({ signal, graceMs: DEFAULT_GRACE_MS }, 'stopping: no new work; in-flight batches finish or are abandoned before their Redshift commit');
            if (worker) void worker.stop().then(resolve);
            else resolve();
          };
          process.once('SIGTERM', () => stop('SIGTERM'));
          process.once('SIGINT', () => stop('SIGINT'));
        });
        if (opts.migrate) await migrate(env.DATABASE_URL!, log);
        if (!stopping) {
          const workerId = makeWorkerId();
          // The worker logs "worker started" and "worker stopped" itself (scheduler/worker.ts).
          worker = startWorker({
            metadataUrl: env.DATABASE_URL!,
            env,
            log,
            workerId,
            runJob: syncRunner(env.DATABASE_URL!, env, log, workerId),
            periodic: (pool, now) => checkLagAlerts(pool, env, log, now),
          });
        }
        await stopped;
        await flushAlerts(3000);
        return 0;
      }, { metadata: opts.migrate ? 'reachable' : 'migrated' }),
    );
}
