import type { Env } from '../config/env.js';
import type { CopyAuth } from '../redshift/sql.js';
import { quoteLiteral } from '../sql/quote.js';

/** How Redshift reads or writes S3, as the sync engine's copyAuth: an IAM role, else access keys. */
export function authFromEnv(env: Pick<Env, 'REDSHIFT_IAM_ROLE' | 'AWS_ACCESS_KEY_ID' | 'AWS_SECRET_ACCESS_KEY' | 'AWS_SESSION_TOKEN'>, iamRole?: string): CopyAuth {
  const role = iamRole ?? env.REDSHIFT_IAM_ROLE;
  if (role) return { iamRole: role };
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    return { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN };
  }
  throw new Error('no way for Redshift to reach S3: pass --iam-role, or set REDSHIFT_IAM_ROLE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY');
}

/** `IAM_ROLE '...'` or `CREDENTIALS 'aws_access_key_id=...;aws_secret_access_key=...[;token=...]'`. */
export function authClause(auth: CopyAuth): string {
  if ('iamRole' in auth) return `IAM_ROLE ${quoteLiteral(auth.iamRole)}`;
  const parts = [`aws_access_key_id=${auth.accessKeyId}`, `aws_secret_access_key=${auth.secretAccessKey}`];
  if (auth.sessionToken) parts.push(`token=${auth.sessionToken}`);
  return `CREDENTIALS ${quoteLiteral(parts.join(';'))}`;
}

/** `s3://bucket/key` -> parts. */
export function parseS3Url(url: string): { bucket: string; key: string } {
  const m = url.match(/^s3:\/\/([^/]+)\/?(.*)$/);
  if (!m) throw new Error(`not an s3:// URL: ${JSON.stringify(url)}`);
  return { bucket: m[1]!, key: m[2]! };
}
