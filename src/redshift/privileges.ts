import type pg from 'pg';
import { columnPrivileges, grantsFromPrivileges, parseAcl, relationPrivileges, type ColumnPrivilegeRow, type Grant, type RelationPrivilegeRow, type TableRef } from './sql.js';

type Queryable = Pick<pg.ClientBase, 'query'>;

/**
 * The grants a relation has, to recreate them elsewhere (a FULL_DATA_SYNC swap, a deep copy,
 * `ddl`): from svv_relation_privileges and svv_column_privileges, which list users, groups,
 * roles, PUBLIC and column grants; where those views do not exist (a cluster without them:
 * error 42P01), from relacl, which holds neither role nor column grants. Run it outside a
 * transaction block: on that fallback the failed query would abort the transaction.
 */
export async function readGrants(db: Queryable, rel: TableRef, owner: string, acl: string | null): Promise<{ grants: Grant[]; from: 'svv_relation_privileges' | 'relacl' }> {
  try {
    const r = await db.query<RelationPrivilegeRow>(relationPrivileges(), [rel.schema, rel.name]);
    const c = await db.query<ColumnPrivilegeRow>(columnPrivileges(), [rel.schema, rel.name]);
    return { grants: grantsFromPrivileges(r.rows, c.rows, owner), from: 'svv_relation_privileges' };
  } catch (err) {
    if ((err as { code?: string }).code !== '42P01') throw err;
    return { grants: parseAcl(acl, owner), from: 'relacl' };
  }
}
