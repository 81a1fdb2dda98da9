import type { Fields } from './protocol.js';

/** An error the double raises itself, shaped like Redshift's. */
export class RsError extends Error {
  constructor(
    message: string,
    readonly code = 'XX000',
    readonly detail?: string,
  ) {
    super(message);
  }
  fields(): Fields {
    const f: Fields = { S: 'ERROR', V: 'ERROR', C: this.code, M: this.message };
    if (this.detail) f.D = this.detail;
    return f;
  }
}

/** Redshift rejects statements its parser lacks with a plain syntax error. */
export const syntaxError = (near: string) => new RsError(`syntax error at or near "${near}"`, '42601');
export const notSupported = (what: string) => new RsError(`${what} is not supported.`, '0A000');

/** Constraint names the double adds; the error translator reads the limit back from them. */
export const BYTES_CONSTRAINT = /^rsdbl_bytes_(\d+)_/;
export const CHAR_CONSTRAINT = /^rsdbl_char_(\d+)_/;

/**
 * Rewrites upstream Postgres errors into Redshift's wording where they differ: the byte
 * CHECK constraints become "value too long", MERGE's duplicate match and cancellation get
 * Redshift's messages. Internal context fields are dropped.
 */
export function translateError(f: Fields, queryId?: number, pid?: number): Fields {
  const out: Fields = { ...f };
  delete out.W;
  delete out.F;
  delete out.L;
  delete out.R;
  delete out.p;
  delete out.q;
  const constraint = f.n ?? '';
  let m: RegExpExecArray | null;
  if (f.C === '23514' && (m = BYTES_CONSTRAINT.exec(constraint))) {
    out.C = '22001';
    out.M = `value too long for type character varying(${m[1]})`;
    delete out.D;
    delete out.n;
  } else if (f.C === '23514' && (m = CHAR_CONSTRAINT.exec(constraint))) {
    out.C = '22001';
    out.M = 'Multibyte character not supported for CHAR (Hint: try using VARCHAR)';
    delete out.D;
    delete out.n;
  } else if (f.C === '21000' && /MERGE command cannot affect row a second time/.test(f.M ?? '')) {
    out.C = 'XX000';
    out.M = 'Found multiple matches to update the same tuple.';
    delete out.H;
  } else if (f.C === '40001') {
    // Redshift's shape (c_serial_isolation.html, AWS knowledge center): ERROR: 1023 / DETAIL: Serializable
    // isolation violation on table - <id>, transactions forming the cycle are: <xids> (pid:<pid>).
    // SQLSTATE stays 40001. Postgres names neither the table nor the other transactions: 0 and "unknown".
    out.M = '1023';
    out.D = `Serializable isolation violation on table - 0, transactions forming the cycle are: unknown (pid:${pid ?? 0})`;
    out.H = `Postgres: ${f.M ?? ''}${f.D ? ` (${f.D})` : ''}`;
  } else if (f.C === '57014' && /user request/.test(f.M ?? '')) {
    out.M = `Query (${queryId ?? 0}) cancelled on user's request`;
  }
  return out;
}
