/**
 * Identifier and literal quoting shared by every SQL builder. Identifiers from metadata
 * rows or a catalog are always quoted; values never pasted unless they are literals we
 * must write into statements that take no parameters (COPY, UNLOAD), and then only via
 * `quoteLiteral`.
 */
export function quoteIdent(name: string): string {
  if (name.length === 0) throw new Error('empty identifier');
  if (name.includes('\0')) throw new Error(`identifier contains a NUL byte: ${JSON.stringify(name)}`);
  return `"${name.replace(/"/g, '""')}"`;
}

export function qualify(schema: string | null | undefined, name: string): string {
  return schema ? `${quoteIdent(schema)}.${quoteIdent(name)}` : quoteIdent(name);
}

export function quoteIdents(names: readonly string[]): string {
  return names.map(quoteIdent).join(', ');
}

/**
 * A string literal for Redshift statements that take no bind parameters (COPY, UNLOAD).
 * Redshift processes backslash escapes inside literals, so a backslash is written doubled.
 */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw new Error('literal contains a NUL byte');
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** Splits a comma-separated column list from a metadata row ("a, b" -> ["a", "b"]). */
export function splitColumnList(value: string | null | undefined): string[] {
  if (!value) return [];
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => (s.startsWith('"') && s.endsWith('"') && s.length > 1 ? s.slice(1, -1).replace(/""/g, '"') : s));
}
