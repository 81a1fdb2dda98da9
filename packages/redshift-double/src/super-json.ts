/**
 * Checks a COPY field bound for a SUPER column: text and CSV values are parsed as JSON
 * (ingest-super.html), strictly (parse_super_null_on_error is off by default,
 * super-configurations.html), within the SUPER limits (limitations-super.html):
 * nesting depth at most 1000, no duplicate attribute names in an object, each string value
 * at most 65535 bytes (the VARCHAR maximum; see README, Assumptions).
 *
 * One pass over the text with an explicit stack, so a deeply nested document cannot
 * overflow the JavaScript stack.
 */
export const SUPER_MAX_DEPTH = 1000;
export const SUPER_MAX_STRING_BYTES = 65535;

export interface SuperProblem {
  code: number;
  reason: string;
}

class Bad extends Error {
  constructor(readonly problem: SuperProblem) {
    super(problem.reason);
  }
}

const malformed = (what: string) => new Bad({ code: 1224, reason: `Invalid JSON for SUPER: ${what}` });

export function checkSuperJson(text: string): SuperProblem | null {
  try {
    scan(text);
    return null;
  } catch (e) {
    if (e instanceof Bad) return e.problem;
    throw e;
  }
}

function scan(s: string): void {
  let i = 0;
  const n = s.length;
  // one entry per open container: null for an array, the set of attribute names for an object
  const stack: Array<Set<string> | null> = [];
  const ws = () => {
    while (i < n && (s[i] === ' ' || s[i] === '\t' || s[i] === '\n' || s[i] === '\r')) i++;
  };
  const str = (): string => {
    // s[i] is the opening quote
    i++;
    let out = '';
    let start = i;
    for (;;) {
      if (i >= n) throw malformed('unterminated string');
      const ch = s.charCodeAt(i);
      if (ch === 0x22) {
        out += s.slice(start, i);
        i++;
        break;
      }
      if (ch < 0x20) throw malformed('control character in a string');
      if (ch === 0x5c) {
        out += s.slice(start, i);
        const e = s[i + 1];
        const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        if (e !== undefined && e in simple) {
          out += simple[e];
          i += 2;
        } else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) {
          out += String.fromCharCode(parseInt(s.slice(i + 2, i + 6), 16));
          i += 6;
        } else throw malformed('invalid escape in a string');
        start = i;
        continue;
      }
      i++;
    }
    if (Buffer.byteLength(out, 'utf8') > SUPER_MAX_STRING_BYTES)
      throw new Bad({ code: 1204, reason: `SUPER string value exceeds ${SUPER_MAX_STRING_BYTES} bytes` });
    return out;
  };
  const scalar = () => {
    const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(s.slice(i, i + 400));
    if (!m || m[0] === '') throw malformed(`unexpected ${JSON.stringify(s.slice(i, i + 10))}`);
    i += m[0].length;
  };
  // expect a value at i; containers push onto the stack
  const value = () => {
    ws();
    const c = s[i];
    if (c === '{' || c === '[') {
      if (stack.length >= SUPER_MAX_DEPTH) throw new Bad({ code: 1224, reason: `SUPER nesting exceeds the maximum depth of ${SUPER_MAX_DEPTH}` });
      stack.push(c === '{' ? new Set() : null);
      i++;
      return true; // opened
    }
    if (c === '"') str();
    else scalar();
    return false;
  };
  const key = (keys: Set<string>) => {
    ws();
    if (s[i] !== '"') throw malformed('expected an attribute name');
    const k = str();
    if (keys.has(k)) throw new Bad({ code: 1224, reason: `Invalid JSON for SUPER: duplicate attribute name "${k.slice(0, 40)}"` });
    keys.add(k);
    ws();
    if (s[i] !== ':') throw malformed('expected ":"');
    i++;
  };

  let opened = value();
  for (;;) {
    if (opened) {
      // just after '{' or '['
      const top = stack[stack.length - 1]!;
      ws();
      if (s[i] === (top ? '}' : ']')) {
        i++;
        stack.pop();
      } else {
        if (top) key(top);
        opened = value();
        continue;
      }
    }
    opened = false;
    if (stack.length === 0) break;
    // after a member: ',' or the close of the current container
    const top = stack[stack.length - 1]!;
    ws();
    if (s[i] === ',') {
      i++;
      if (top) key(top);
      opened = value();
      continue;
    }
    if (s[i] === (top ? '}' : ']')) {
      i++;
      stack.pop();
      continue;
    }
    throw malformed(`expected "," or "${top ? '}' : ']'}"`);
  }
  ws();
  if (i !== n) throw malformed('text after the JSON value');
}
