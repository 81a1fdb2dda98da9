import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { freshDatabase, stackEnv } from './stack.js';

/** Shared helpers for the Redshift double's suite: a database through the double, S3 objects. */

let s3: S3Client | null = null;
export function s3Client(): S3Client {
  const env = stackEnv();
  s3 ??= new S3Client({
    endpoint: env.S3_ENDPOINT,
    region: env.AWS_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
  });
  return s3;
}

export const bucket = () => stackEnv().S3_BUCKET;
export const role = () => stackEnv().REDSHIFT_IAM_ROLE;
export const auth = () => `IAM_ROLE '${role()}'`;

/** A unique key prefix for one test's objects. */
export function prefix(name: string): string {
  return `double-test/${name}-${randomBytes(4).toString('hex')}/`;
}

export async function put(key: string, body: string | Buffer, opts: { gzip?: boolean } = {}): Promise<string> {
  let data = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  if (opts.gzip) data = gzipSync(data);
  await s3Client().send(new PutObjectCommand({ Bucket: bucket(), Key: key, Body: data }));
  return `s3://${bucket()}/${key}`;
}

export async function get(key: string): Promise<Buffer> {
  const r = await s3Client().send(new GetObjectCommand({ Bucket: bucket(), Key: key }));
  return Buffer.from(await r.Body!.transformToByteArray());
}

export async function list(pfx: string): Promise<string[]> {
  const r = await s3Client().send(new ListObjectsV2Command({ Bucket: bucket(), Prefix: pfx }));
  return (r.Contents ?? []).map((o) => o.Key!).sort();
}

/** A connected client through the double to a fresh database (closed by the returned fn). */
export async function connect(dbPrefix = 'dbl'): Promise<{ c: pg.Client; url: string; directUrl: string; close: () => Promise<void> }> {
  const db = await freshDatabase(dbPrefix);
  const c = new pg.Client({ connectionString: db.redshiftUrl });
  await c.connect();
  return { c, url: db.redshiftUrl, directUrl: db.url, close: () => c.end() };
}

export async function client(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  return c;
}

/** The error a query raises (fails the test if it succeeds). */
export async function errorOf(c: pg.ClientBase, sql: string, params?: unknown[]): Promise<pg.DatabaseError> {
  try {
    await c.query(sql, params);
  } catch (e) {
    return e as pg.DatabaseError;
  }
  throw new Error(`expected an error from: ${sql}`);
}

export async function rows<T = Record<string, unknown>>(c: pg.ClientBase, sql: string, params?: unknown[]): Promise<T[]> {
  return (await c.query(sql, params)).rows as T[];
}

/** Sends a CancelRequest for `victim` to the double, as a driver does. */
export async function sendCancel(url: string, victim: pg.Client): Promise<void> {
  const { processID, secretKey } = victim as unknown as { processID: number; secretKey: number };
  const port = Number(new URL(url).port);
  await new Promise<void>((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      const b = Buffer.alloc(16);
      b.writeInt32BE(16, 0);
      b.writeInt32BE(80877102, 4);
      b.writeInt32BE(processID, 8);
      b.writeInt32BE(secretKey, 12);
      s.end(b);
    });
    s.on('close', () => resolve());
    s.on('error', reject);
  });
}

/** Polls `ready` every 20 ms until it is true; fails after `timeoutMs` naming what it waited for. */
export async function waitFor(ready: () => Promise<boolean>, what = 'the condition', timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (Date.now() > end) throw new Error(`waited ${timeoutMs} ms for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
