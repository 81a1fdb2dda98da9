import { Command } from 'commander';
import { registerAdmin } from './commands/admin.js';
import { registerCdc } from './commands/cdc.js';
import { registerConfig } from './commands/config.js';
import { registerDoctor } from './commands/doctor.js';
import { registerGrants } from './commands/grants.js';
import { registerMigrate } from './commands/migrate.js';
import { registerSetup } from './commands/setup.js';
import { registerStack } from './commands/stack.js';
import { registerSync } from './commands/sync.js';
import { registerVerify } from './commands/verify.js';
import { registerStatus } from './commands/status.js';
import { registerStudio } from './commands/studio.js';
import { registerWorker } from './commands/worker.js';

/**
 * Usage errors (an unknown option, a missing or invalid argument) are one line on stderr,
 * `redshift-loader: <what> (see redshift-loader <command> --help)`, and exit code 2.
 * `index.ts` turns commander's exits into exit codes (exitOverride).
 */
export function buildProgram(): Command {
  const program = new Command();
  let current = '';
  program
    .name('redshift-loader')
    .description('Keep Amazon Redshift tables in step with PostgreSQL tables, and administer Redshift')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({
      outputError: (str, write) => {
        const text = str.trim().replace(/^error: /, '');
        write(`redshift-loader: ${text} (see redshift-loader ${current ? `${current} ` : ''}--help)\n`);
      },
    })
    .hook('preSubcommand', (_program, sub) => {
      current = sub.name();
    });
  registerMigrate(program);
  registerSync(program);
  registerVerify(program);
  registerSetup(program);
  registerConfig(program);
  registerGrants(program);
  registerStatus(program);
  registerCdc(program);
  registerDoctor(program);
  registerWorker(program);
  registerStudio(program);
  registerStack(program);
  registerAdmin(program);
  return program;
}
