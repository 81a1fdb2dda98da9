import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { envFileText } from '../src/stack/stack.js';
import { root } from './helpers/cli.js';
import { freshDatabase, freshMetadataDb, stackEnv, withClient } from './helpers/stack.js';

/**
 * The README's "Your first job, on the local stack", run as a user runs it: its shell block
 * taken from README.md as written, in a folder of a clone, with a `.stack.env` such as
 * `npm run stack -- --env-file .stack.env` writes (here: fresh databases on the suite's
 * stack). Every command must succeed (bash -e), and the outputs the README promises must
 * appear. If this fails, the front door of the project is wrong.
 */
describe('README: your first job on the local stack', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('runs from a clone to a synced, verified table, as written', async () => {
    const readme = await readFile(path.join(root, 'README.md'), 'utf8');
    const part = /<!-- first-job:start[^>]*-->\s*```sh\n([\s\S]*?)```\s*<!-- first-job:end -->/.exec(readme);
    expect(part, 'README.md has the first-job block between <!-- first-job:start --> and <!-- first-job:end -->').not.toBeNull();
    const script = part![1]!;

    // What `npm run stack` would write, on fresh databases of the suite's stack.
    const s = stackEnv();
    const source = await freshDatabase('readme_src');
    const target = await freshDatabase('readme_rs');
    const env = {
      DATABASE_URL: await freshMetadataDb(),
      SOURCE_URL: source.url,
      REDSHIFT_URL: target.redshiftUrl,
      S3_ENDPOINT: s.S3_ENDPOINT,
      S3_BUCKET: s.S3_BUCKET,
      S3_FORCE_PATH_STYLE: 'true',
      AWS_REGION: s.AWS_REGION,
      AWS_ACCESS_KEY_ID: s.AWS_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: s.AWS_SECRET_ACCESS_KEY,
      REDSHIFT_IAM_ROLE: s.REDSHIFT_IAM_ROLE,
    };
    // A folder inside the clone (npm finds the package from there), as a user's shell would be.
    dir = await mkdtemp(path.join(root, '.readme-test-'));
    await writeFile(path.join(dir, '.stack.env'), envFileText(env));

    const ran = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        'bash',
        ['-e', '-o', 'pipefail', '-c', script],
        { cwd: dir, env: { PATH: process.env.PATH, HOME: process.env.HOME }, timeout: 150_000, maxBuffer: 64 * 1024 * 1024 },
        (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
    expect(ran.code, `${ran.stdout}\n${ran.stderr}`).toBe(0);
    expect(ran.stdout).toContain('public.orders -> shop.orders (INSERT_AND_UPDATE): MATCH');
    expect(ran.stdout).toMatch(/1000 \| 750750\.00/);
    expect(ran.stdout).toContain('HEALTH: ok');
    // The job is in the metadata DB, the rows in "Redshift", and the exported file lists the table setup chose.
    expect((await withClient(target.url, (c) => c.query(`SELECT count(*)::int AS n FROM shop.orders`))).rows[0].n).toBe(1000);
    const exported = await readFile(path.join(dir, 'shop.yaml'), 'utf8');
    expect(exported).toContain('source_name: orders');
    expect(exported).toContain('copy_mode: INSERT_AND_UPDATE');
    expect(exported).toContain('source_connection_string: env:SOURCE_URL');
  }, 180_000);
});
