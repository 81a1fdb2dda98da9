import path from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';

/**
 * After the run: how long the whole suite took and its slowest files (the README's
 * development section lists them with what they cover), so a slow or stuck suite shows.
 */
export default class SlowestFiles implements Reporter {
  private started = 0;

  onTestRunStart(): void {
    this.started = performance.now();
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const root = process.cwd();
    const files = modules
      .map((m) => ({ file: path.relative(root, m.moduleId), seconds: m.diagnostic().duration / 1000, tests: [...m.children.allTests()].length }))
      .sort((a, b) => b.seconds - a.seconds)
      .slice(0, 8);
    const wall = (performance.now() - this.started) / 1000;
    const lines = [`\ntest suite: ${modules.length} files in ${wall.toFixed(1)} s wall time; slowest files (time in their tests and hooks):`];
    for (const f of files) lines.push(`  ${f.seconds.toFixed(1).padStart(6)} s  ${f.file} (${f.tests} tests)`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
}
