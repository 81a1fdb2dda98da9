#!/usr/bin/env node
import { CommanderError } from 'commander';
import { buildProgram } from './program.js';

// The AWS SDK warns on every run that its releases after January 2027 need Node 22: noise
// on stderr that a user of this tool cannot act on (engines: node >= 20.19).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// `npm run cli -- apply shop.yaml` runs in the package's folder; a path the user typed is
// relative to where they typed it (npm's INIT_CWD), as it is for the installed command.
if (process.env.npm_lifecycle_event === 'cli' && process.env.INIT_CWD && process.env.INIT_CWD !== process.cwd()) {
  try {
    process.chdir(process.env.INIT_CWD);
  } catch {
    // The folder is gone: stay where npm put us.
  }
}

try {
  await buildProgram().parseAsync(process.argv);
} catch (err) {
  // Commander has written its one line already (program.ts); help and --version exit 0.
  if (err instanceof CommanderError) process.exitCode = err.exitCode === 0 ? 0 : 2;
  else throw err;
}
