import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, type Command } from 'commander';
import { runCommand } from '../context.js';

/**
 * `redshift-loader studio`: Prisma Studio on the metadata DB (DATABASE_URL), the admin UI
 * for the jobs, tables, schedule_events and sync_runs rows. It runs the `prisma` package's
 * own CLI with the repository's prisma.config.ts, which reads DATABASE_URL from the
 * environment (so the URL is never on a command line). Studio needs no engine download;
 * PRISMA_SCHEMA_ENGINE_BINARY=/bin/false keeps Prisma from looking for one.
 */
const here = path.dirname(fileURLToPath(import.meta.url));
// src/cli/commands (tsx) or dist/src/cli/commands (built): the package root is 3 or 4 levels up.
const CONFIG_CANDIDATES = [path.resolve(here, '../../../prisma.config.ts'), path.resolve(here, '../../../../prisma.config.ts')];

function port(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 65535) throw new InvalidArgumentError('expected a port number, e.g. 5555');
  return n;
}

export function prismaCli(): string | null {
  try {
    return path.join(path.dirname(createRequire(import.meta.url).resolve('prisma/package.json')), 'build/index.js');
  } catch {
    return null;
  }
}

export function registerStudio(program: Command): void {
  program
    .command('studio')
    .description('open Prisma Studio on the metadata DB (DATABASE_URL): browse and edit jobs, tables, schedule_events and sync_runs in a browser')
    .option('--port <port>', 'port to serve Studio on (on 127.0.0.1)', port, 5555)
    .option('--browser <name>', 'browser to open Studio in (default none: open the printed URL yourself)', 'none')
    .action((opts: { port: number; browser: string }) =>
      runCommand(['DATABASE_URL'], async () => {
        const cliPath = prismaCli();
        const config = CONFIG_CANDIDATES.find((c) => existsSync(c));
        if (!cliPath || !config) {
          process.stderr.write(
            'redshift-loader: Prisma Studio comes with the `prisma` package, a development dependency: run `npm run studio` in a clone of redshift-loader (after `npm install`), with DATABASE_URL set to the metadata DB\n',
          );
          return 2;
        }
        const child = spawn(process.execPath, [cliPath, 'studio', '--config', config, '--port', String(opts.port), '--browser', opts.browser], {
          stdio: 'inherit',
          env: { ...process.env, CHECKPOINT_DISABLE: '1', PRISMA_HIDE_UPDATE_MESSAGE: '1', PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? '/bin/false' },
        });
        const forward = (signal: NodeJS.Signals) => child.kill(signal);
        process.on('SIGINT', forward);
        process.on('SIGTERM', forward);
        const code = await new Promise<number>((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 0 : 1))));
        process.off('SIGINT', forward);
        process.off('SIGTERM', forward);
        return code;
      }),
    );
}
