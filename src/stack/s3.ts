import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { freePort, waitForPort } from './ports.js';

export interface S3Server {
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  stop(): Promise<void>;
}

/**
 * Runs s3rver (an S3-protocol server) in a child process. s3rver does not stop cleanly
 * in-process, so it lives in its own process and is stopped with SIGKILL.
 */
export async function startS3Server(opts: { dir: string; bucket: string; port?: number }): Promise<S3Server> {
  const port = opts.port ?? (await freePort());
  const dataDir = path.join(opts.dir, `s3-${port}`);
  await rm(dataDir, { recursive: true, force: true });
  await mkdir(dataDir, { recursive: true });
  const s3rverPath = createRequire(import.meta.url).resolve('s3rver');
  const code = `
    const S3rver = require(${JSON.stringify(s3rverPath)});
    const server = new S3rver({ port: ${port}, address: '127.0.0.1', silent: true,
      directory: ${JSON.stringify(dataDir)}, configureBuckets: [{ name: ${JSON.stringify(opts.bucket)} }] });
    server.run().then(() => process.send && process.send('ready'), (e) => { console.error(e); process.exit(1); });
    process.on('disconnect', () => process.exit(0));
  `;
  const child: ChildProcess = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  await Promise.race([
    new Promise<void>((resolve) => child.once('message', () => resolve())),
    new Promise<void>((_, reject) => child.once('exit', (code) => reject(new Error(`s3rver exited with ${code}: ${stderr}`)))),
  ]);
  await waitForPort(port);
  child.unref();
  child.channel?.unref();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket: opts.bucket,
    region: 'us-east-1',
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    async stop() {
      // Already gone (Ctrl-C reaches the whole process group): its exit event has fired.
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGKILL');
        await exited;
      }
      await rm(dataDir, { recursive: true, force: true }).catch(() => undefined);
    },
  };
}
