import { redactSecrets } from '../secrets.js';

/**
 * Connection strings in the metadata rows are either a postgres:// URL or `env:VAR_NAME`,
 * resolved at run time so that secrets stay in the environment (the README's advice).
 */
export class ConnectionResolveError extends Error {
  override name = 'ConnectionResolveError';
}

export function resolveConnectionString(
  value: string,
  what: string,
  env: Record<string, string | undefined> = process.env,
): string {
  const trimmed = value.trim();
  if (trimmed.startsWith('env:')) {
    const name = trimmed.slice(4);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new ConnectionResolveError(`${what}: "${trimmed}" is not a valid env: reference (expected env:VAR_NAME)`);
    }
    const resolved = env[name];
    if (resolved === undefined || resolved === '') {
      throw new ConnectionResolveError(`${what}: environment variable ${name} is not set`);
    }
    return checkUrl(resolved, `${what} (from ${name})`);
  }
  return checkUrl(trimmed, what);
}

function checkUrl(v: string, what: string): string {
  if (!/^(postgres|postgresql|redshift):\/\//.test(v)) {
    throw new ConnectionResolveError(`${what}: expected a postgres:// URL or env:VAR_NAME, got ${redactUrl(v)}`);
  }
  return v.replace(/^redshift:\/\//, 'postgres://');
}

/** Masks the password in any URL-like text (well formed or not), for logs and error messages. */
export function redactUrl(text: string): string {
  return redactSecrets(text);
}
