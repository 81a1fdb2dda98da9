import type { TestProject } from 'vitest/node';
import { startStack, type StackEnv } from '../src/stack/stack.js';

declare module 'vitest' {
  export interface ProvidedContext {
    stack: StackEnv;
  }
}

/**
 * The same local stack `npm run stack` runs. TEST_DATABASE_URL (an admin URL) makes the
 * tests use an existing PostgreSQL server instead of the embedded one.
 */
export default async function setup(project: TestProject) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'; // as vitest.config.ts's env
  const stack = await startStack({ postgresUrl: process.env.TEST_DATABASE_URL || undefined });
  project.provide('stack', stack.env);
  return async () => {
    await stack.stop();
  };
}
