import { AbortMultipartUploadCommand, DeleteObjectsCommand, GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { Env } from '../config/env.js';

type S3Env = Pick<Env, 'AWS_REGION' | 'S3_ENDPOINT' | 'S3_FORCE_PATH_STYLE' | 'AWS_ACCESS_KEY_ID' | 'AWS_SECRET_ACCESS_KEY' | 'AWS_SESSION_TOKEN'> &
  Partial<Pick<Env, 'S3_REQUEST_TIMEOUT_SECONDS' | 'S3_MAX_ATTEMPTS' | 'CONNECT_TIMEOUT_SECONDS'>>;

/**
 * The S3 client. Every request has a deadline (S3_REQUEST_TIMEOUT_SECONDS for a request
 * without progress, CONNECT_TIMEOUT_SECONDS to connect) and is retried by the SDK up to
 * S3_MAX_ATTEMPTS times, so a paused or unreachable S3 becomes an error, never a hang.
 */
export function createS3Client(env: S3Env): S3Client {
  return new S3Client({
    requestHandler: new NodeHttpHandler({
      connectionTimeout: (env.CONNECT_TIMEOUT_SECONDS ?? 30) * 1000,
      requestTimeout: (env.S3_REQUEST_TIMEOUT_SECONDS ?? 120) * 1000,
      // Without it the handler only logs a warning when the deadline passes, and waits on.
      throwOnRequestTimeout: true,
    }),
    maxAttempts: env.S3_MAX_ATTEMPTS ?? 5,
    region: env.AWS_REGION,
    endpoint: env.S3_ENDPOINT,
    forcePathStyle: env.S3_FORCE_PATH_STYLE ?? env.S3_ENDPOINT !== undefined,
    credentials:
      env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
        ? { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN }
        : undefined,
  });
}

export const s3Url = (bucket: string, key: string) => `s3://${bucket}/${key}`;

/** An S3 failure, saying it was S3, which operation and which object or folder. */
export class S3Error extends Error {
  override name = 'S3Error';
}

async function s3Call<T>(what: string, url: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const e = err as { name?: string; message?: string };
    throw new S3Error(`S3 could not ${what} ${url}: ${e.message || e.name || String(err)}`);
  }
}

export async function putText(s3: S3Client, bucket: string, key: string, body: string, contentType = 'application/json'): Promise<void> {
  await s3Call('write', s3Url(bucket, key), () => s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType })));
}

export async function getText(s3: S3Client, bucket: string, key: string): Promise<string> {
  return s3Call('read', s3Url(bucket, key), async () => {
    const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return (await r.Body?.transformToString()) ?? '';
  });
}

export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  return s3Call('list', s3Url(bucket, prefix), async () => {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of r.Contents ?? []) if (o.Key) keys.push(o.Key);
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return keys;
  });
}

/** Deletes every object under `prefix` (a batch's or a run's folder). */
export async function deletePrefix(s3: S3Client, bucket: string, prefix: string): Promise<number> {
  const keys = await listKeys(s3, bucket, prefix);
  for (let i = 0; i < keys.length; i += 1000) {
    const part = keys.slice(i, i + 1000);
    await s3Call('delete objects under', s3Url(bucket, prefix), () => s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: part.map((Key) => ({ Key })), Quiet: true } })));
  }
  return keys.length;
}

export interface Manifest {
  entries: Array<{ url: string; mandatory: boolean; meta?: { content_length: number } }>;
}

export function manifestFor(bucket: string, keys: Array<{ key: string; bytes: number }>): Manifest {
  return { entries: keys.map((k) => ({ url: s3Url(bucket, k.key), mandatory: true, meta: { content_length: k.bytes } })) };
}

/**
 * Aborts the multipart uploads left under `prefix` by runs that died mid-upload (their
 * parts are billed until aborted). S3 servers that cannot list them (s3rver) are skipped:
 * returns null then. A bucket lifecycle rule that aborts incomplete uploads is the backstop.
 */
export async function abortUploads(s3: S3Client, bucket: string, prefix: string, keep: (key: string) => boolean): Promise<number | null> {
  let aborted = 0;
  try {
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    do {
      const r = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: idMarker }));
      for (const u of r.Uploads ?? []) {
        if (!u.Key || !u.UploadId || keep(u.Key)) continue;
        await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
        aborted++;
      }
      keyMarker = r.IsTruncated ? r.NextKeyMarker : undefined;
      idMarker = r.IsTruncated ? r.NextUploadIdMarker : undefined;
    } while (keyMarker);
  } catch {
    return null;
  }
  return aborted;
}
