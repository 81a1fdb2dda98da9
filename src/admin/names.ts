import { qualify } from '../sql/quote.js';

/** A schema-qualified relation name. */
export interface Relation {
  schema: string;
  name: string;
}

export const relationSql = (r: Relation) => qualify(r.schema, r.name);
export const relationText = (r: Relation) => `${r.schema}.${r.name}`;

/**
 * Parses `table`, `schema.table`, `"Mixed Case"."Name"` as Redshift reads identifiers:
 * unquoted parts fold to lower case, quoted parts are taken as written ("" is a quote).
 */
export function parseRelation(text: string, defaultSchema = 'public'): Relation {
  const parts: string[] = [];
  let i = 0;
  const s = text.trim();
  while (i < s.length) {
    if (s[i] === '"') {
      let out = '';
      i++;
      for (;;) {
        if (i >= s.length) throw new Error(`unterminated quoted identifier in ${JSON.stringify(text)}`);
        if (s[i] === '"') {
          if (s[i + 1] === '"') {
            out += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        out += s[i++];
      }
      parts.push(out);
    } else {
      let j = i;
      while (j < s.length && s[j] !== '.') j++;
      const part = s.slice(i, j).trim();
      if (!/^[A-Za-z_\u0080-\uffff][\w$\u0080-\uffff]*$/.test(part)) throw new Error(`not a valid identifier: ${JSON.stringify(part)} in ${JSON.stringify(text)}`);
      parts.push(part.toLowerCase());
      i = j;
    }
    if (i < s.length) {
      if (s[i] !== '.') throw new Error(`unexpected ${JSON.stringify(s[i])} in relation name ${JSON.stringify(text)}`);
      i++;
      if (i >= s.length) throw new Error(`relation name ends with a dot: ${JSON.stringify(text)}`);
    }
  }
  if (parts.length === 1) return { schema: defaultSchema, name: parts[0]! };
  if (parts.length === 2) return { schema: parts[0]!, name: parts[1]! };
  throw new Error(`expected [schema.]name, got ${JSON.stringify(text)}`);
}

export function toRelation(r: string | Relation, defaultSchema = 'public'): Relation {
  return typeof r === 'string' ? parseRelation(r, defaultSchema) : r;
}
