import { RsError } from './errors.js';
import type { Token } from './sql-lexer.js';

/**
 * Identifier rules the double applies to every statement it sees (r_names.html).
 *
 * Length: Redshift names are 1 to 127 bytes; Postgres keeps 63 (NAMEDATALEN - 1) and
 * silently truncates longer ones, so `<62-byte name>_rl_swap` could land on an existing
 * table. The double refuses any identifier over 63 bytes instead, saying so.
 */
export const PG_MAX_IDENTIFIER_BYTES = 63;
export const REDSHIFT_MAX_IDENTIFIER_BYTES = 127;

export function checkIdentifierLengths(tokens: Token[]): void {
  for (const t of tokens) {
    if (t.type !== 'word' && t.type !== 'qident') continue;
    const bytes = Buffer.byteLength(t.value, 'utf8');
    if (bytes <= PG_MAX_IDENTIFIER_BYTES) continue;
    if (bytes > REDSHIFT_MAX_IDENTIFIER_BYTES) throw new RsError(`identifier "${t.value}" is ${bytes} bytes: Redshift names are 1 to ${REDSHIFT_MAX_IDENTIFIER_BYTES} bytes`, '42622');
    throw new RsError(
      `The Redshift double cannot hold identifiers over ${PG_MAX_IDENTIFIER_BYTES} bytes (Postgres's limit); Redshift allows up to ${REDSHIFT_MAX_IDENTIFIER_BYTES}: "${t.value}" is ${bytes} bytes`,
      '42622',
    );
  }
}

/**
 * Case: ASCII letters of quoted identifiers fold to lower case unless
 * enable_case_sensitive_identifier is on (r_names.html, r_enable_case_sensitive_identifier.html);
 * "the case of a username enclosed in double quotation marks is always preserved". Unquoted
 * identifiers fold in Postgres already. Returns the statement with each quoted identifier
 * that is not a user name rewritten in lower case.
 */
export function foldQuotedIdentifiers(sql: string, tokens: Token[]): string {
  const keep = userNameTokens(tokens);
  let out = '';
  let pos = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.type !== 'qident' || keep.has(i) || !/[A-Z]/.test(t.value)) continue;
    out += sql.slice(pos, t.start) + `"${t.value.replace(/[A-Z]/g, (ch) => ch.toLowerCase()).replace(/"/g, '""')}"`;
    pos = t.end;
  }
  return pos === 0 ? sql : out + sql.slice(pos);
}

const isWord = (t: Token | undefined, ...ws: string[]) => t?.type === 'word' && ws.includes(t.value);

/** Indexes of quoted tokens that name users: after USER, AUTHORIZATION, OWNER TO, ALTER USER ... RENAME TO, and GRANT ... TO / REVOKE ... FROM grantee lists (not GROUP or ROLE grantees). */
function userNameTokens(toks: Token[]): Set<number> {
  const keep = new Set<number>();
  const first = toks[0];
  const stmt = first?.type === 'word' ? first.value : '';
  let depth = 0;
  let granteeList = false;
  let userList = false;
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t.type === 'op' && t.text === '(') depth++;
    else if (t.type === 'op' && t.text === ')') depth--;
    if (depth === 0 && ((stmt === 'grant' && isWord(t, 'to')) || (stmt === 'revoke' && isWord(t, 'from')))) granteeList = true;
    if (t.type !== 'qident') {
      if (!(t.type === 'op' && t.text === ',') && !isWord(t, 'if', 'exists', 'user', 'group', 'role')) userList = false;
      continue;
    }
    const prev = toks[i - 1];
    const prev2 = toks[i - 2];
    const afterUser = isWord(prev, 'user', 'authorization') || (isWord(prev, 'exists') && isWord(toks[i - 3], 'user'));
    const ownerTo = isWord(prev, 'to') && isWord(prev2, 'owner');
    const renameUser = stmt === 'alter' && isWord(toks[1], 'user') && isWord(prev, 'to') && isWord(prev2, 'rename');
    const grantee = granteeList && !isWord(prev, 'group', 'role');
    const listed: boolean = userList && prev?.type === 'op' && prev.text === ',';
    if (afterUser || ownerTo || renameUser || grantee || listed) {
      keep.add(i);
      userList = afterUser || listed;
    }
  }
  return keep;
}
