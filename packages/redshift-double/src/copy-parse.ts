import type { JsonOption } from './copy-json.js';
import { RsError, syntaxError } from './errors.js';
import { significant, str, syntaxAt, tokenize, TokenCursor } from './sql-lexer.js';

/**
 * Parser for Redshift's `COPY table [(cols)] FROM 's3://...' <authorization> [options]`.
 * Every option is either implemented (and recorded here) or an error: nothing is ignored.
 */
export type S3Auth =
  | { type: 'iam_role'; role: string }
  | { type: 'keys'; accessKeyId: string; secretAccessKey: string; sessionToken?: string };

export interface CopyCommand {
  kind: 'copy';
  tableText: string;
  tableName: string;
  columns: string[] | null;
  from: string;
  auth: S3Auth;
  format: 'csv' | 'text' | 'json';
  /** FORMAT JSON's argument ('auto' when none is given). */
  json: JsonOption | null;
  quote: string;
  delimiter: string;
  manifest: boolean;
  /** GZIP or ZSTD: how every file is decompressed before it is parsed. */
  compression: 'none' | 'gzip' | 'zstd';
  nullAs: string;
  emptyAsNull: boolean;
  blanksAsNull: boolean;
  truncateColumns: boolean;
  /** Replacement character, or null when ACCEPTINVCHARS is not given. */
  acceptInvChars: string | null;
  ignoreHeader: number;
  maxError: number;
  dateFormat: string | null;
  timeFormat: string | null;
  region: string | null;
  escape: boolean;
  removeQuotes: boolean;
  fillRecord: boolean;
  ignoreBlankLines: boolean;
  trimBlanks: boolean;
  explicitIds: boolean;
  roundec: boolean;
  noload: boolean;
}

/** Redshift COPY options the double recognises but does not implement: an error when used. */
const NOT_IMPLEMENTED = new Set([
  'avro', 'parquet', 'orc', 'fixedwidth', 'shapefile', 'bzip2', 'lzop', 'acceptanydate', 'encrypted',
  'master_symmetric_key', 'readratio', 'ssh', 'serializetojson', 'jsonpaths', 'simplify', 'ignoreallerrors', 'partition',
]);

const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;

export function validateIamRole(role: string): void {
  if (role === 'default') return;
  for (const r of role.split(',')) {
    if (!ROLE_ARN.test(r.trim())) throw new RsError(`Invalid IAM_ROLE: '${role}' is not an IAM role ARN`, 'XX000');
  }
}

export function parseCredentials(s: string): S3Auth {
  const kv = new Map<string, string>();
  for (const part of s.split(';')) {
    const i = part.indexOf('=');
    if (i > 0) kv.set(part.slice(0, i).trim().toLowerCase(), part.slice(i + 1).trim());
  }
  const role = kv.get('aws_iam_role');
  if (role) {
    validateIamRole(role);
    return { type: 'iam_role', role };
  }
  const id = kv.get('aws_access_key_id');
  const secret = kv.get('aws_secret_access_key');
  if (id && secret) return { type: 'keys', accessKeyId: id, secretAccessKey: secret, sessionToken: kv.get('token') };
  throw new RsError(
    "Invalid credentials. Must be of the format: credentials 'aws_iam_role=...' or 'aws_access_key_id=...;aws_secret_access_key=...[;token=...]'",
    'XX000',
  );
}

/** Reads `IAM_ROLE ...`, `CREDENTIALS ...` or `ACCESS_KEY_ID ... SECRET_ACCESS_KEY ...` at the cursor, if present. */
export function readAuthOption(c: TokenCursor, current: S3Auth | null): S3Auth | null | 'none' {
  const setOnce = (a: S3Auth): S3Auth => {
    if (current && current.type !== 'keys') throw new RsError('conflicting or redundant authorization options', 'XX000');
    return a;
  };
  if (c.acceptWord('iam_role')) {
    if (c.acceptWord('default')) return setOnce({ type: 'iam_role', role: 'default' });
    const role = str(c);
    validateIamRole(role);
    return setOnce({ type: 'iam_role', role });
  }
  if (c.isWord('credentials') || (c.isWord('with') && c.isWord('credentials', 1))) {
    c.acceptWord('with');
    c.expectWord('credentials');
    c.acceptWord('as');
    return setOnce(parseCredentials(str(c)));
  }
  if (c.acceptWord('access_key_id')) {
    c.acceptWord('as');
    const id = str(c);
    return { type: 'keys', accessKeyId: id, secretAccessKey: current?.type === 'keys' ? current.secretAccessKey : '', sessionToken: current?.type === 'keys' ? current.sessionToken : undefined };
  }
  if (c.acceptWord('secret_access_key')) {
    c.acceptWord('as');
    const secret = str(c);
    return { type: 'keys', accessKeyId: current?.type === 'keys' ? current.accessKeyId : '', secretAccessKey: secret, sessionToken: current?.type === 'keys' ? current.sessionToken : undefined };
  }
  if (c.acceptWord('session_token')) {
    c.acceptWord('as');
    const token = str(c);
    return { type: 'keys', accessKeyId: current?.type === 'keys' ? current.accessKeyId : '', secretAccessKey: current?.type === 'keys' ? current.secretAccessKey : '', sessionToken: token };
  }
  return 'none';
}

export function finishAuth(auth: S3Auth | null, command: string): S3Auth {
  if (!auth) throw new RsError(`${command} requires authorization: specify IAM_ROLE, CREDENTIALS, or ACCESS_KEY_ID and SECRET_ACCESS_KEY`, 'XX000');
  if (auth.type === 'keys' && (!auth.accessKeyId || !auth.secretAccessKey))
    throw new RsError('ACCESS_KEY_ID and SECRET_ACCESS_KEY must be specified together', 'XX000');
  return auth;
}

function int(c: TokenCursor): number {
  const t = c.next();
  if (t.type === 'number' && /^\d+$/.test(t.text)) return Number(t.text);
  if (t.type === 'string' && /^\d+$/.test(t.value)) return Number(t.value);
  throw syntaxAt(t);
}

function onOff(c: TokenCursor): void {
  if (c.acceptWord('on') || c.acceptWord('off') || c.acceptWord('true') || c.acceptWord('false') || c.acceptWord('preset')) return;
}

/** DELIMITER values: one byte; '\t'-style escapes are already decoded by the lexer. */
function singleChar(v: string, what: string): string {
  if (Buffer.byteLength(v) !== 1) throw new RsError(`${what} must be a single-byte character`, 'XX000');
  return v;
}

/** `'auto'`, `'auto ignorecase'`, `'noshred'` or `'s3://bucket/jsonpaths-file'`. */
export function jsonOption(v: string): JsonOption {
  const t = v.trim().toLowerCase().replace(/\s+/g, ' ');
  if (t === 'auto') return { kind: 'auto', ignoreCase: false };
  if (t === 'auto ignorecase') return { kind: 'auto', ignoreCase: true };
  if (t === 'noshred') return { kind: 'noshred' };
  if (/^s3:\/\/[^/]+\/./.test(v.trim())) {
    if (v.trim().endsWith('/')) throw new RsError(`The JSONPaths file must be a single object, not a key prefix: '${v}'`, 'XX000');
    return { kind: 'jsonpaths', url: v.trim() };
  }
  throw new RsError(`Invalid JSON option '${v}': use 'auto', 'auto ignorecase', 'noshred' or 's3://jsonpaths_file'`, 'XX000');
}

export function parseCopy(sql: string): CopyCommand {
  const c = new TokenCursor(significant(tokenize(sql)), sql);
  c.expectWord('copy');
  const name = c.qualifiedName();
  let columns: string[] | null = null;
  if (c.acceptOp('(')) {
    columns = [c.ident()];
    while (c.acceptOp(',')) columns.push(c.ident());
    c.expectOp(')');
  }
  c.expectWord('from');
  const fromTok = c.next();
  if (fromTok.type !== 'string') throw syntaxAt(fromTok);
  const from = fromTok.value;
  if (!/^s3:\/\/[^/]+\/./.test(from)) {
    if (/^(emr|dynamodb|ssh):\/\//i.test(from)) throw new RsError(`The Redshift double only loads from Amazon S3 (got '${from}')`, '0A000');
    throw new RsError(`Invalid S3 path '${from}': must be s3://bucket/key-or-prefix`, 'XX000');
  }
  const cmd: CopyCommand = {
    kind: 'copy',
    tableText: name.text,
    tableName: name.parts[name.parts.length - 1]!,
    columns,
    from,
    auth: { type: 'iam_role', role: '' },
    format: 'text',
    json: null,
    quote: '"',
    delimiter: '|',
    manifest: false,
    compression: 'none',
    nullAs: '\\N',
    emptyAsNull: false,
    blanksAsNull: false,
    truncateColumns: false,
    acceptInvChars: null,
    ignoreHeader: 0,
    maxError: 0,
    dateFormat: null,
    timeFormat: null,
    region: null,
    escape: false,
    removeQuotes: false,
    fillRecord: false,
    ignoreBlankLines: false,
    trimBlanks: false,
    explicitIds: false,
    roundec: false,
    noload: false,
  };
  let auth: S3Auth | null = null;
  let delimiterSet = false;
  const seen = new Set<string>();
  const once = (k: string) => {
    if (seen.has(k)) throw new RsError(`conflicting or redundant options: ${k.toUpperCase()}`, '42601');
    seen.add(k);
  };
  while (!c.done()) {
    const a = readAuthOption(c, auth);
    if (a !== 'none') {
      auth = a;
      continue;
    }
    const t = c.next();
    if (t.type !== 'word') throw syntaxAt(t);
    const kw = t.value;
    switch (kw) {
      case 'format': {
        c.acceptWord('as');
        const f = c.ident();
        if (f !== 'csv' && f !== 'json') throw new RsError(`COPY format ${f.toUpperCase()} is not implemented by the Redshift double`, '0A000');
        c.i--;
        break;
      }
      case 'json': {
        once('json');
        cmd.format = 'json';
        c.acceptWord('as');
        cmd.json = c.peek()?.type === 'string' ? jsonOption(str(c)) : { kind: 'auto', ignoreCase: false };
        break;
      }
      case 'csv':
        once('csv');
        cmd.format = 'csv';
        if (!delimiterSet) cmd.delimiter = ',';
        if (c.acceptWord('quote')) {
          c.acceptWord('as');
          cmd.quote = singleChar(str(c), 'QUOTE');
        }
        break;
      case 'delimiter':
        once('delimiter');
        seen.add('delimiter-given');
        c.acceptWord('as');
        cmd.delimiter = singleChar(str(c), 'DELIMITER');
        delimiterSet = true;
        break;
      case 'gzip':
      case 'zstd':
        // One compression option at most (Redshift: conflicting or redundant options).
        once('compression');
        cmd.compression = kw;
        break;
      case 'manifest':
        once('manifest');
        cmd.manifest = true;
        break;
      case 'region':
        once('region');
        c.acceptWord('as');
        cmd.region = str(c);
        if (!/^[a-z]{2}(-gov)?-[a-z]+-\d$/.test(cmd.region)) throw new RsError(`Invalid region '${cmd.region}'`, 'XX000');
        break;
      case 'null':
        once('null');
        c.acceptWord('as');
        cmd.nullAs = str(c);
        break;
      case 'emptyasnull':
        cmd.emptyAsNull = true;
        break;
      case 'blanksasnull':
        cmd.blanksAsNull = true;
        break;
      case 'truncatecolumns':
        cmd.truncateColumns = true;
        break;
      case 'acceptinvchars': {
        c.acceptWord('as');
        cmd.acceptInvChars = '?';
        if (c.peek()?.type === 'string') {
          const ch = str(c);
          if (Buffer.byteLength(ch) !== 1 || ch === '\0') throw new RsError('ACCEPTINVCHARS replacement must be a single ASCII character', 'XX000');
          cmd.acceptInvChars = ch;
        }
        break;
      }
      case 'ignoreheader':
        once('ignoreheader');
        c.acceptWord('as');
        cmd.ignoreHeader = int(c);
        break;
      case 'maxerror':
        once('maxerror');
        c.acceptWord('as');
        cmd.maxError = int(c);
        if (cmd.maxError > 100000) throw new RsError('MAXERROR must be between 0 and 100000', 'XX000');
        break;
      case 'dateformat':
        once('dateformat');
        c.acceptWord('as');
        cmd.dateFormat = str(c);
        if (!['auto', 'YYYY-MM-DD'].includes(cmd.dateFormat))
          throw new RsError(`DATEFORMAT '${cmd.dateFormat}' is not implemented by the Redshift double (use 'auto' or 'YYYY-MM-DD')`, '0A000');
        break;
      case 'timeformat':
        once('timeformat');
        c.acceptWord('as');
        cmd.timeFormat = str(c);
        if (!['auto', 'YYYY-MM-DD HH:MI:SS', 'epochsecs', 'epochmillisecs'].includes(cmd.timeFormat))
          throw new RsError(`TIMEFORMAT '${cmd.timeFormat}' is not implemented by the Redshift double (use 'auto', 'epochsecs', 'epochmillisecs' or 'YYYY-MM-DD HH:MI:SS')`, '0A000');
        break;
      case 'compupdate':
      case 'statupdate':
        once(kw);
        onOff(c);
        break;
      case 'comprows':
        once(kw);
        int(c);
        break;
      case 'escape':
        cmd.escape = true;
        break;
      case 'removequotes':
        cmd.removeQuotes = true;
        break;
      case 'fillrecord':
        cmd.fillRecord = true;
        break;
      case 'ignoreblanklines':
        cmd.ignoreBlankLines = true;
        break;
      case 'trimblanks':
        cmd.trimBlanks = true;
        break;
      case 'explicit_ids':
        cmd.explicitIds = true;
        break;
      case 'roundec':
        cmd.roundec = true;
        break;
      case 'noload':
        cmd.noload = true;
        break;
      case 'encoding': {
        c.acceptWord('as');
        const e = c.ident();
        if (e !== 'utf8') throw new RsError(`COPY ENCODING ${e.toUpperCase()} is not implemented by the Redshift double (only UTF8)`, '0A000');
        break;
      }
      default:
        if (NOT_IMPLEMENTED.has(kw)) throw new RsError(`COPY option ${kw.toUpperCase()} is not implemented by the Redshift double`, '0A000');
        throw syntaxError(t.text);
    }
  }
  cmd.auth = finishAuth(auth, 'COPY');
  if (cmd.json) {
    cmd.format = 'json';
    // copy-parameters-data-format.html: options JSON does not support.
    const bad = [
      ['csv', seen.has('csv')],
      ['delimiter', seen.has('delimiter-given')],
      ['escape', cmd.escape],
      ['fillrecord', cmd.fillRecord],
      ['ignoreblanklines', cmd.ignoreBlankLines],
      ['null as', seen.has('null')],
      ['removequotes', cmd.removeQuotes],
    ].find(([, on]) => on);
    if (bad) throw new RsError(`${String(bad[0]).toUpperCase()} is not supported with JSON format`, 'XX000');
  }
  if (cmd.format === 'csv' && (cmd.escape || cmd.removeQuotes)) throw new RsError(`CSV is not compatible with ${cmd.escape ? 'ESCAPE' : 'REMOVEQUOTES'}`, 'XX000');
  if (cmd.format === 'csv' && cmd.delimiter === cmd.quote) throw new RsError('COPY delimiter and quote must be different', 'XX000');
  if (cmd.delimiter === '\n' || cmd.delimiter === '\r') throw new RsError('COPY delimiter cannot be a newline', 'XX000');
  return cmd;
}
