import { RsError } from './errors.js';
import { syntaxAt, type TokenCursor } from './sql-lexer.js';

/** A column type as Redshift declares it, mapped to the Postgres type the double stores. */
export interface MappedType {
  /** Postgres type text for the upstream DDL. */
  pg: string;
  /** VARCHAR limit in bytes (the double adds a CHECK on octet_length). */
  varcharBytes?: number;
  /** CHAR(n): single-byte characters only. */
  charLength?: number;
  super?: boolean;
}

export const MAX_VARCHAR = 65535;
export const MAX_CHAR = 4096;
export const SUPER_TYPE = 'super';

/** Postgres types Redshift lacks: named in a Redshift-like "unsupported type" error. */
const UNSUPPORTED = new Set([
  'uuid', 'json', 'jsonb', 'xml', 'inet', 'cidr', 'macaddr', 'macaddr8', 'bytea', 'money', 'serial', 'serial2', 'serial4',
  'serial8', 'bigserial', 'smallserial', 'int4range', 'int8range', 'numrange', 'tsrange', 'tstzrange', 'daterange',
  'int4multirange', 'int8multirange', 'nummultirange', 'tsmultirange', 'tstzmultirange', 'datemultirange', 'tsvector',
  'tsquery', 'point', 'line', 'lseg', 'box', 'path', 'polygon', 'circle', 'bit', 'varbit', 'oid', 'regclass', 'regtype',
  'txid_snapshot', 'pg_snapshot', 'pg_lsn', 'name', 'jsonpath', 'cstring', 'record', 'void', 'xid', 'xid8', 'cid', 'tid',
]);

/** Redshift types the double does not implement (an error, never a silent approximation). */
const NOT_IMPLEMENTED = new Set(['varbyte', 'varbinary', 'binary', 'geometry', 'geography', 'hllsketch', 'interval', 'intervaly2m', 'intervald2s']);

/**
 * Reads a type at the cursor (e.g. `character varying(10)`, `double precision`,
 * `timestamp with time zone`, `numeric(10,2)`, `varchar(max)`) and maps it.
 * `column` names the column in errors ("table.col").
 */
export function readType(c: TokenCursor, column: string): MappedType {
  const first = c.next();
  if (first.type === 'qident') return unknownType(first.value);
  if (first.type !== 'word') throw syntaxAt(first);
  if (c.isOp('.')) {
    c.next();
    const t = c.ident();
    return unknownType(`${first.value}.${t}`);
  }
  let name = first.value;
  const two = (w: string) => c.acceptWord(w);
  if (name === 'double' && two('precision')) name = 'double precision';
  else if ((name === 'character' || name === 'char' || name === 'nchar') && two('varying')) name = 'varchar';
  else if (name === 'national' && (c.acceptWord('character', 'varying') || c.acceptWord('char', 'varying'))) name = 'varchar';
  else if (name === 'national' && (c.acceptWord('character') || c.acceptWord('char'))) name = 'char';
  else if (name === 'bit' && two('varying')) name = 'varbit';
  else if (name === 'binary' && two('varying')) name = 'varbyte';
  let args: string[] | null = null;
  if (c.isOp('(')) args = c.group().split(',').map((s) => s.trim().toLowerCase());
  if (name === 'timestamp' || name === 'time') {
    if (c.acceptWord('with', 'time', 'zone')) name += 'tz';
    else c.acceptWord('without', 'time', 'zone');
  }
  if (c.isOp('[') || c.isWord('array')) throw unsupported(column, `${name}[]`);
  return mapType(name, args, column);
}

function intArg(s: string | undefined, type: string): number {
  if (s === undefined || !/^\d+$/.test(s)) throw new RsError(`invalid type modifier for ${type}: ${s ?? ''}`, '22023');
  return Number(s);
}

export function mapType(name: string, args: string[] | null, column: string): MappedType {
  const noArgs = () => {
    if (args) throw new RsError(`syntax error at or near "("`, '42601');
  };
  switch (name) {
    case 'smallint':
    case 'int2':
      noArgs();
      return { pg: 'smallint' };
    case 'integer':
    case 'int':
    case 'int4':
      noArgs();
      return { pg: 'integer' };
    case 'bigint':
    case 'int8':
      noArgs();
      return { pg: 'bigint' };
    case 'decimal':
    case 'numeric': {
      const p = args ? intArg(args[0], name) : 18;
      const s = args && args[1] !== undefined ? intArg(args[1], name) : 0;
      if (p < 1 || p > 38) throw new RsError(`NUMERIC precision ${p} must be between 1 and 38`, '22023');
      if (s > p) throw new RsError(`NUMERIC scale ${s} must be between 0 and precision ${p}`, '22023');
      return { pg: `numeric(${p},${s})` };
    }
    case 'real':
    case 'float4':
      noArgs();
      return { pg: 'real' };
    case 'double precision':
    case 'float8':
      noArgs();
      return { pg: 'double precision' };
    case 'float': {
      const p = args ? intArg(args[0], name) : 53;
      return { pg: p <= 24 ? 'real' : 'double precision' };
    }
    case 'boolean':
    case 'bool':
      noArgs();
      return { pg: 'boolean' };
    case 'char':
    case 'character':
    case 'nchar':
    case 'bpchar': {
      const n = args ? intArg(args[0], name) : name === 'bpchar' ? 256 : 1;
      if (n < 1) throw new RsError('length for type char must be at least 1', '22023');
      if (n > MAX_CHAR) throw new RsError(`length for type char cannot exceed ${MAX_CHAR}`, '22023');
      return { pg: `char(${n})`, charLength: n };
    }
    case 'varchar':
    case 'nvarchar':
    case 'text':
    case 'character varying': {
      let n = 256;
      if (args) {
        if (name === 'text') throw new RsError(`syntax error at or near "("`, '42601');
        n = args[0] === 'max' ? MAX_VARCHAR : intArg(args[0], name);
      }
      if (n < 1) throw new RsError('length for type varchar must be at least 1', '22023');
      if (n > MAX_VARCHAR) throw new RsError(`length for type varchar cannot exceed ${MAX_VARCHAR}`, '22023');
      return { pg: `varchar(${n})`, varcharBytes: n };
    }
    case 'date':
      noArgs();
      return { pg: 'date' };
    case 'time':
    case 'timetz':
    case 'timestamp':
    case 'timestamptz': {
      noArgs();
      const pg = { time: 'time', timetz: 'timetz', timestamp: 'timestamp', timestamptz: 'timestamptz' }[name];
      return { pg };
    }
    case 'super':
      noArgs();
      return { pg: SUPER_TYPE, super: true };
    default:
      if (NOT_IMPLEMENTED.has(name)) throw new RsError(`The Redshift double does not implement type "${name}" (column ${column}).`, '0A000');
      if (UNSUPPORTED.has(name)) throw unsupported(column, name);
      return unknownType(name);
  }
}

function unsupported(column: string, type: string): RsError {
  return new RsError(`Column "${column}" has unsupported type "${type}".`, '0A000');
}

function unknownType(name: string): never {
  throw new RsError(`type "${name}" does not exist`, '42704');
}

/** Compression encodings Redshift accepts in ENCODE. */
export const ENCODINGS = new Set([
  'raw', 'az64', 'bytedict', 'delta', 'delta32k', 'lzo', 'mostly8', 'mostly16', 'mostly32', 'runlength', 'text255', 'text32k', 'zstd',
]);
