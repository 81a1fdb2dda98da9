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
