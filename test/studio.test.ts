import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/stack/ports.js';
import { repoRoot } from './helpers/cli.js';
import { freshMetadataDb, withClient } from './helpers/stack.js';

/**
 * The admin UI in a real headless browser: `redshift-loader studio` serves Prisma Studio on
 * the metadata DB, and Chromium (Debian's `chromium` package, driven by playwright-core;
 * no browser is downloaded) shows the loader's tables and their rows. Machines without a
 * Chromium binary (CI has only Node and npm) skip it, saying why.
 */
const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'].filter((p): p is string => !!p);
const chromiumPath = CANDIDATES.find((p) => existsSync(p));
if (!chromiumPath) {
  console.warn(`studio browser test SKIPPED: no Chromium binary found (looked for ${CANDIDATES.join(', ')}); apt-get install chromium, or set CHROMIUM_PATH`);
}

describe.skipIf(!chromiumPath)('the admin UI (Prisma Studio) in headless Chromium', () => {
  let studio: ChildProcess | undefined;
  afterAll(async () => {
    if (studio && studio.exitCode === null) {
      const exited = new Promise((resolve) => studio!.once('exit', resolve));
      studio.kill('SIGTERM');
      await exited;
    }
  });

  it('lists the jobs, tables and sync_runs tables and shows a job row', async () => {
    const url = await freshMetadataDb();
    await withClient(url, async (c) => {
      const job = await c.query(`INSERT INTO jobs (name, source_connection_string, destination_connection_string) VALUES ('studio_job', 'env:STUDIO_SOURCE_URL', 'env:REDSHIFT_URL') RETURNING id`);
      const table = await c.query(`INSERT INTO tables (job_id, source_name, copy_mode, primary_key) VALUES ($1, 'orders', 'INSERT_ONLY', 'id') RETURNING id`, [job.rows[0].id]);
      await c.query(`INSERT INTO sync_runs (job_id, table_id, copy_mode, status, rows) VALUES ($1, $2, 'INSERT_ONLY', 'succeeded', 42)`, [job.rows[0].id, table.rows[0].id]);
    });
    const port = await freePort();
    studio = spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'studio', '--port', String(port)], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: url, LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const address = await new Promise<string>((resolve, reject) => {
      const onData = (d: Buffer) => {
        output += d.toString();
        const m = output.match(/Prisma Studio is running at: (http:\/\/\S+)/);
        if (m) resolve(m[1]!);
      };
      studio!.stdout!.on('data', onData);
      studio!.stderr!.on('data', onData);
      studio!.once('exit', (code) => reject(new Error(`studio exited with ${code}: ${output}`)));
    });
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: chromiumPath, headless: true });
    try {
      const page = await browser.newPage({ viewport: { width: 3200, height: 1000 } });
      await page.goto(address);
      const nav = page.getByRole('navigation', { name: 'Tables' });
      await nav.getByRole('link', { name: 'sync_runs', exact: true }).waitFor();
      const listed = await nav.getByRole('link').allInnerTexts();
      expect(listed.map((t) => t.trim())).toEqual(expect.arrayContaining(['jobs', 'tables', 'sync_runs', 'schedule_events']));
      await nav.getByRole('link', { name: 'jobs', exact: true }).click();
      await page.getByText('studio_job', { exact: true }).waitFor();
      expect(await page.getByText('env:STUDIO_SOURCE_URL', { exact: true }).count()).toBe(1);
      await nav.getByRole('link', { name: 'sync_runs', exact: true }).click();
      // The run's row: its copy_mode cell (an enum) is among the first columns.
      await page.getByText('INSERT_ONLY', { exact: true }).waitFor();
      expect(page.url()).toContain('table=sync_runs');
    } finally {
      await browser.close();
    }
  });
});
