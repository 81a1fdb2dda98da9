/**
 * Which server a connection string points at, for error messages: `host:port/database`,
 * never the user's password (nor, for a string that does not parse, anything of it).
 */
export function endpointOf(url: string): string {
  try {
    const u = new URL(url.replace(/^redshift:\/\//, 'postgres://'));
    const host = u.hostname || process.env.PGHOST || 'localhost';
    const port = u.port || process.env.PGPORT || '5432';
    const db = decodeURIComponent(u.pathname.replace(/^\//, ''));
    return `${host}:${port}${db ? `/${db}` : ''}`;
  } catch {
    return '(a connection string that does not parse)';
  }
}

/** A connection that could not be opened: says to which server, and why. */
export class ConnectError extends Error {
  override name = 'ConnectError';
  constructor(
    /** host:port/database */
    readonly endpoint: string,
    /** The driver's reason (e.g. `connect ECONNREFUSED 127.0.0.1:5432`, `password authentication failed ...`). */
    readonly reason: string,
    readonly code?: string,
  ) {
    super(`${reason} (at ${endpoint})`);
  }
}

/** Wraps a failed connect in a ConnectError naming the server. */
export function connectError(url: string, err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  const e = err as { message?: string; code?: string };
  return new ConnectError(endpointOf(url), e?.message || String(err), e?.code);
}
