/**
 * A SQL tokenizer good enough to split statements and find the clauses the double
 * rewrites. String literals follow Redshift's rules: backslash escapes are processed
 * inside '...' (Redshift behaves like PostgreSQL with standard_conforming_strings off).
 */
export type TokenType = 'word' | 'qident' | 'string' | 'number' | 'op' | 'param' | 'ws' | 'comment';

export interface Token {
  type: TokenType;
  /** Source text of the token. */
  text: string;
  /** word: lower-cased; qident: unquoted name; string: the literal's value; others: text. */
  value: string;
  start: number;
  end: number;
}

export class SqlSyntaxError extends Error {}

const WORD_START = /[A-Za-z_\u0080-\uffff]/;
const WORD_PART = /[A-Za-z0-9_$\u0080-\uffff]/;

export function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const n = sql.length;
  const push = (type: TokenType, start: number, end: number, value?: string) => {
    const text = sql.slice(start, end);
    out.push({ type, text, value: value ?? text, start, end });
  };
  while (i < n) {
    const c = sql[i]!;
    const start = i;
    if (/\s/.test(c)) {
      while (i < n && /\s/.test(sql[i]!)) i++;
      push('ws', start, i);
    } else if (c === '-' && sql[i + 1] === '-') {
      while (i < n && sql[i] !== '\n') i++;
      push('comment', start, i);
    } else if (c === '/' && sql[i + 1] === '*') {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === '/' && sql[i + 1] === '*') {
          depth++;
          i += 2;
        } else if (sql[i] === '*' && sql[i + 1] === '/') {
          depth--;
          i += 2;
        } else i++;
      }
      if (depth > 0) throw new SqlSyntaxError('unterminated /* comment');
      push('comment', start, i);
    } else if (c === "'" || ((c === 'E' || c === 'e') && sql[i + 1] === "'")) {
      if (c !== "'") i++;
      const r = readQuoted(sql, i);
      i = r.end;
      push('string', start, i, r.value);
    } else if (c === '"') {
      let value = '';
      i++;
      for (;;) {
        if (i >= n) throw new SqlSyntaxError('unterminated quoted identifier');
        if (sql[i] === '"') {
          if (sql[i + 1] === '"') {
            value += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += sql[i++];
      }
      push('qident', start, i, value);
    } else if (c === '$' && /[0-9]/.test(sql[i + 1] ?? '')) {
      i++;
      while (i < n && /[0-9]/.test(sql[i]!)) i++;
      push('param', start, i);
    } else if (c === '$') {
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      if (!m) {
        i++;
        push('op', start, i);
        continue;
      }
      const tag = m[0];
      const close = sql.indexOf(tag, i + tag.length);
      if (close < 0) throw new SqlSyntaxError('unterminated dollar-quoted string');
      i = close + tag.length;
      push('string', start, i, sql.slice(start + tag.length, close));
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(sql[i + 1] ?? ''))) {
      while (i < n && /[0-9.]/.test(sql[i]!)) i++;
      if ((sql[i] === 'e' || sql[i] === 'E') && /[-+0-9]/.test(sql[i + 1] ?? '')) {
        i += 2;
        while (i < n && /[0-9]/.test(sql[i]!)) i++;
      }
      push('number', start, i);
    } else if (WORD_START.test(c)) {
      while (i < n && WORD_PART.test(sql[i]!)) i++;
      push('word', start, i, sql.slice(start, i).toLowerCase());
    } else if (c === ':' && sql[i + 1] === ':') {
      i += 2;
      push('op', start, i);
    } else {
      i++;
      push('op', start, i);
    }
  }
  return out;
}

function readQuoted(sql: string, i: number): { value: string; end: number } {
  // sql[i] is the opening quote
  let value = '';
  i++;
  for (;;) {
    if (i >= sql.length) throw new SqlSyntaxError('unterminated quoted string');
    const ch = sql[i]!;
    if (ch === "'") {
      if (sql[i + 1] === "'") {
        value += "'";
        i += 2;
        continue;
      }
      return { value, end: i + 1 };
    }
    if (ch === '\\') {
      const nx = sql[i + 1];
      if (nx === undefined) throw new SqlSyntaxError('unterminated quoted string');
      const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f' };
      if (/[0-7]/.test(nx)) {
        const m = /^[0-7]{1,3}/.exec(sql.slice(i + 1))![0];
        value += String.fromCharCode(parseInt(m, 8));
        i += 1 + m.length;
        continue;
      }
      value += map[nx] ?? nx;
      i += 2;
      continue;
    }
    value += ch;
    i++;
  }
}

/** Tokens without whitespace and comments. */
export function significant(tokens: Token[]): Token[] {
  return tokens.filter((t) => t.type !== 'ws' && t.type !== 'comment');
}

/** Splits a query string into statements (text of each, without the `;`). */
export function splitStatements(sql: string): string[] {
  const tokens = tokenize(sql);
  const out: string[] = [];
  let start = 0;
  let hasContent = false;
  let depth = 0;
  for (const t of tokens) {
    if (t.type === 'op' && t.text === '(') depth++;
    else if (t.type === 'op' && t.text === ')') depth--;
    if (t.type === 'op' && t.text === ';' && depth <= 0) {
      if (hasContent) out.push(sql.slice(start, t.start));
      start = t.end;
      hasContent = false;
      depth = 0;
    } else if (t.type !== 'ws' && t.type !== 'comment') hasContent = true;
  }
  if (hasContent) out.push(sql.slice(start));
  return out;
}

/** A cursor over significant tokens, for the small recursive-descent parsers. */
export class TokenCursor {
  i = 0;
  constructor(readonly toks: Token[], readonly sql: string) {}
  peek(k = 0): Token | undefined {
    return this.toks[this.i + k];
  }
  done(): boolean {
    return this.i >= this.toks.length;
  }
  next(): Token {
    const t = this.toks[this.i++];
    if (!t) throw new SqlSyntaxError('unexpected end of statement');
    return t;
  }
  /** Is the next token the keyword (unquoted word) w? */
  isWord(w: string, k = 0): boolean {
    const t = this.peek(k);
    return !!t && t.type === 'word' && t.value === w;
  }
  isOp(o: string, k = 0): boolean {
    const t = this.peek(k);
    return !!t && t.type === 'op' && t.text === o;
  }
  acceptWord(...ws: string[]): boolean {
    if (ws.every((w, k) => this.isWord(w, k))) {
      this.i += ws.length;
      return true;
    }
    return false;
  }
  acceptOp(o: string): boolean {
    if (this.isOp(o)) {
      this.i++;
      return true;
    }
    return false;
  }
  expectWord(w: string): void {
    if (!this.acceptWord(w)) throw syntaxAt(this.peek());
  }
  expectOp(o: string): void {
    if (!this.acceptOp(o)) throw syntaxAt(this.peek());
  }
  /** An identifier (unquoted word folded to lower case, or quoted). */
  ident(): string {
    const t = this.next();
    if (t.type === 'word') return t.value;
    if (t.type === 'qident') return t.value;
    throw syntaxAt(t);
  }
  /** A possibly qualified name; returns parts and the source text. */
  qualifiedName(): { parts: string[]; text: string } {
    const first = this.peek();
    const parts = [this.ident()];
    while (this.isOp('.')) {
      this.i++;
      parts.push(this.ident());
    }
    const last = this.toks[this.i - 1]!;
    return { parts, text: this.sql.slice(first!.start, last.end) };
  }
  /** Skips a balanced parenthesised group starting at '('; returns the inner source text. */
  group(): string {
    const open = this.next();
    if (open.type !== 'op' || open.text !== '(') throw syntaxAt(open);
    let depth = 1;
    for (;;) {
      const t = this.next();
      if (t.type === 'op' && t.text === '(') depth++;
      if (t.type === 'op' && t.text === ')') {
        depth--;
        if (depth === 0) return this.sql.slice(open.end, t.start);
      }
    }
  }
  /** Source text from token index a (inclusive) to b (exclusive). */
  textBetween(a: number, b: number): string {
    if (b <= a) return '';
    return this.sql.slice(this.toks[a]!.start, this.toks[b - 1]!.end);
  }
}

export function syntaxAt(t: Token | undefined): SqlSyntaxError {
  return new SqlSyntaxError(t ? `syntax error at or near "${t.text}"` : 'syntax error at end of input');
}

/** A string literal at the cursor (else a syntax error at that token). */
export function str(c: TokenCursor): string {
  const t = c.next();
  if (t.type !== 'string') throw syntaxAt(t);
  return t.value;
}

/** SQL literal for internal statements: E'' form works whatever standard_conforming_strings is. */
export function lit(s: string): string {
  return `E'${s.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

export function ident(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}
