/**
 * What must never leave the process in clear: passwords in connection strings (well
 * formed or not), AWS secret keys and session tokens (in CREDENTIALS strings, COPY's
 * SECRET_ACCESS_KEY/SESSION_TOKEN, query strings, JSON), PASSWORD '...' clauses, and the
 * exact values of secret environment variables (the webhook URL, AWS keys). Every sink
 * (logs, sync_runs.error, tables.last_error, schedule_events.last_error, stderr, a dry
 * run's stdout, alerts) passes its text through `redactSecrets`.
 *
 * Two layers: shapes (any form of URL or option that carries a secret), and values (a
 * registered secret is masked wherever it appears, even alone or URL-encoded).
 */

const MASK = '***';

/** Exact secret values registered at start (long ones only: a short value would mask ordinary words). */
const known = new Set<string>();
const MIN_KNOWN_LENGTH = 12;

export function registerSecret(value: string | undefined | null): void {
  if (!value || value.length < MIN_KNOWN_LENGTH) return;
  known.add(value);
  const encoded = encodeURIComponent(value);
  if (encoded !== value) known.add(encoded);
}

/** Names of environment variables whose whole value is a secret. */
const SECRET_NAME = /SECRET|TOKEN|PASSWORD|WEBHOOK/i;

/**
 * Registers the secrets an environment holds: the values of variables named like secrets,
 * and the password of every URL-valued variable (connection strings referenced as env:VAR).
 */
export function registerSecretsFromEnv(env: Record<string, string | undefined>): void {
  for (const [name, value] of Object.entries(env)) {
    if (!value) continue;
    if (SECRET_NAME.test(name)) registerSecret(value);
    if (value.includes('@') && /^[a-z][a-z0-9+.-]*:/i.test(value)) {
      const pw = passwordOf(value);
      if (pw) {
        registerSecret(pw);
        try {
          registerSecret(decodeURIComponent(pw));
        } catch {
          /* not percent-encoded */
        }
      }
    }
  }
}

/** For tests: forget registered values. */
export function clearRegisteredSecrets(): void {
  known.clear();
}

function passwordOf(token: string): string | null {
  const at = token.lastIndexOf('@');
  if (at < 0) return null;
  const info = userinfo(token.slice(0, at));
  const colon = info.text.indexOf(':');
  return colon < 0 ? null : info.text.slice(colon + 1) || null;
}

/**
 * The user:password part of what comes before the last '@' of a token, and where it
 * starts: after `scheme://` (or a malformed `scheme//`, `scheme:/`), else after the last
 * `=`, `(`, `,` or `;`, else the whole head (`user:password@host`).
 */
function userinfo(head: string): { start: number; text: string } {
  let start = head.indexOf('//');
  if (start >= 0) start += 2;
  else {
    const i = head.indexOf(':/');
    if (i >= 0) start = i + 2;
    else start = Math.max(head.lastIndexOf('='), head.lastIndexOf('('), head.lastIndexOf(','), head.lastIndexOf(';')) + 1;
  }
  return { start, text: head.slice(start) };
}

function maskUserinfo(token: string): string {
  const at = token.lastIndexOf('@');
  if (at <= 0) return token;
  const head = token.slice(0, at);
  const info = userinfo(head);
  const colon = info.text.indexOf(':');
  if (colon < 0 || colon === info.text.length - 1) return token;
  return `${head.slice(0, info.start + colon + 1)}${MASK}${token.slice(at)}`;
}

/** Option names whose value is a secret, in key=value, key: value and "key": "value" forms. */
const SECRET_KEYS = [
  'password',
  'passwd',
  'pwd',
  'sslpassword',
  'secret',
  'client_secret',
  'token',
  'access_token',
  'session_token',
  'sessiontoken',
  'security_token',
  'api_key',
  'apikey',
  'aws_secret_access_key',
  'aws_session_token',
  'secret_access_key',
  'secretaccesskey',
  'x-amz-security-token',
  'x-amz-signature',
].join('|');

const KEY_VALUE = new RegExp(`((?:^|[?&;,\\s(])(?:${SECRET_KEYS})(?:\\s*=\\s*|:(?!\\s)))('(?:[^']|'')*'|"[^"]*"|[^&;,\\s'"})]+)`, 'gi');
const JSON_VALUE = new RegExp(`("(?:${SECRET_KEYS})"\\s*:\\s*)"(?:[^"\\\\]|\\\\.)*"`, 'gi');
/** COPY/UNLOAD's own credential parameters, and PASSWORD clauses (CREATE/ALTER USER). */
const SQL_PARAMS = /(\b(?:SECRET_ACCESS_KEY|SESSION_TOKEN|PASSWORD)\s+(?:AS\s+)?)'(?:[^']|'')*'/gi;
/** Any whitespace- or quote-delimited token with an '@' (URL userinfo, well formed or not). */
const AT_TOKEN = /[^\s'"`<>]*@[^\s'"`<>]*/g;

/** Masks every secret in free text. Idempotent. */
export function redactSecrets(text: string): string {
  if (!text) return text;
  let out = text;
  for (const v of known) if (out.includes(v)) out = out.split(v).join(MASK);
  out = out.replace(AT_TOKEN, maskUserinfo);
  out = out.replace(JSON_VALUE, `$1"${MASK}"`);
  out = out.replace(KEY_VALUE, (_m, key: string, value: string) => `${key}${value.startsWith("'") ? `'${MASK}'` : value.startsWith('"') ? `"${MASK}"` : MASK}`);
  out = out.replace(SQL_PARAMS, `$1'${MASK}'`);
  return out;
}
