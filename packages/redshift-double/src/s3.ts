import { DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { RsError } from './errors.js';

/**
 * S3 access for COPY and UNLOAD. The double always uses the stack's S3 endpoint and keys:
 * the IAM role or keys in the SQL are validated for form but cannot be checked (no IAM).
 */
export interface S3Options {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export function makeS3(o: S3Options): S3Client {
  return new S3Client({
    endpoint: o.endpoint,
    region: o.region,
    forcePathStyle: true,
    credentials: { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey },
  });
}

export function parseS3Url(url: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([^/]+)\/(.*)$/.exec(url);
  if (!m) throw new RsError(`Invalid S3 URL '${url}'`, 'XX000');
  return { bucket: m[1]!, key: m[2]! };
}

function isMissing(err: unknown): boolean {
  const e = err as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.Code === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
}

function isNoBucket(err: unknown): boolean {
  const e = err as { name?: string; Code?: string };
  return e?.name === 'NoSuchBucket' || e?.Code === 'NoSuchBucket';
}

/** The object's bytes, or null when the key does not exist. */
export async function getObject(s3: S3Client, bucket: string, key: string): Promise<Buffer | null> {
  try {
    const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    if (!r.Body) return Buffer.alloc(0);
    return Buffer.from(await r.Body.transformToByteArray());
  } catch (err) {
    if (isMissing(err)) return null;
    if (isNoBucket(err)) throw new RsError(`S3ServiceException:The specified bucket does not exist,Status 404,Error NoSuchBucket,Bucket ${bucket}`, 'XX000');
    throw new RsError(`S3ServiceException:${(err as Error).message}`, 'XX000');
  }
}

/** Keys starting with prefix, in key order, with sizes (folder markers ending in '/' excluded). */
export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<Array<{ key: string; size: number }>> {
  const out: Array<{ key: string; size: number }> = [];
  let token: string | undefined;
  try {
    do {
      const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of r.Contents ?? []) if (o.Key && !o.Key.endsWith('/')) out.push({ key: o.Key, size: o.Size ?? 0 });
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
  } catch (err) {
    if (isNoBucket(err)) throw new RsError(`S3ServiceException:The specified bucket does not exist,Status 404,Error NoSuchBucket,Bucket ${bucket}`, 'XX000');
    throw new RsError(`S3ServiceException:${(err as Error).message}`, 'XX000');
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

export async function putObject(s3: S3Client, bucket: string, key: string, body: Buffer): Promise<void> {
  try {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  } catch (err) {
    throw new RsError(`S3ServiceException:${(err as Error).message}`, 'XX000');
  }
}

export async function deleteKeys(s3: S3Client, bucket: string, keys: string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 1000) {
    await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })) } }));
  }
}
