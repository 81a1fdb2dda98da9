import { Command } from 'commander';
import { registerAdmin } from './commands/admin.js';
import { registerCdc } from './commands/cdc.js';
import { registerConfig } from './commands/config.js';
import { registerGrants } from './commands/grants.js';
import { registerMigrate } from './commands/migrate.js';
import { registerSetup } from './commands/setup.js';
import { registerStack } from './commands/stack.js';
import { registerSync } from './commands/sync.js';
import { registerVerify } from './commands/verify.js';
import { registerStatus } from './commands/status.js';
import { registerStudio } from './commands/studio.js';
import { registerWorker } from './commands/worker.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('redshift-loader')
    .description('Keep Amazon Redshift tables in step with PostgreSQL tables, and administer Redshift')
    .showHelpAfterError()
    .version('0.1.0');
  registerMigrate(program);
  registerSync(program);
  registerVerify(program);
  registerSetup(program);
  registerConfig(program);
  registerGrants(program);
  registerStatus(program);
  registerCdc(program);
  registerWorker(program);
  registerStudio(program);
  registerStack(program);
  registerAdmin(program);
  return program;
}
