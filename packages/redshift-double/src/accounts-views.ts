/**
 * Redshift's views of users, groups, roles and privileges, over Postgres's catalogs and the
 * role settings accounts.ts keeps (installed in each database's `redshift_double` schema;
 * client SQL reaches them through the rewriter, like the other system views).
 * Guide: r_PG_USER_INFO (pg_user_info.html), r_SVL_USER_INFO.html, r_SVV_USER_INFO.html,
 * r_SVV_ROLES.html, r_SVV_USER_GRANTS.html, r_SVV_ROLE_GRANTS.html,
 * r_SVV_RELATION_PRIVILEGES.html, r_SVV_COLUMN_PRIVILEGES.html, r_PG_DEFAULT_ACL.html (ACL text).
 */
export const ACCOUNT_VIEWS = [
  'pg_user',
  'pg_user_info',
  'pg_group',
  'svl_user_info',
  'svv_user_info',
  'svv_roles',
  'svv_user_grants',
  'svv_role_grants',
  'svv_relation_privileges',
  'svv_column_privileges',
] as const;

export const ACCOUNTS_INSTALL_SQL = `
-- 'user' (can log in), 'role' (a Redshift role: the kind setting), or 'group'.
CREATE OR REPLACE FUNCTION redshift_double.identity_kind(r oid) RETURNS text LANGUAGE sql STABLE AS $f$
  SELECT CASE WHEN rolcanlogin THEN 'user'
              WHEN 'rsdbl.kind=role' = ANY (COALESCE(rolconfig, '{}')) THEN 'role'
              ELSE 'group' END
  FROM pg_roles WHERE oid = r
$f$;

-- A role setting kept by the double (NULL when not set).
CREATE OR REPLACE FUNCTION redshift_double.role_setting(r oid, name text) RETURNS text LANGUAGE sql STABLE AS $f$
  SELECT substr(c, length(name) + 2) FROM pg_roles, unnest(COALESCE(rolconfig, '{}')) AS c
  WHERE oid = r AND c LIKE name || '=%' LIMIT 1
$f$;

-- Redshift's useconfig: Redshift-only parameters without the double's prefix, its own bookkeeping left out.
CREATE OR REPLACE FUNCTION redshift_double.user_config(cfg text[]) RETURNS text[] LANGUAGE sql IMMUTABLE AS $f$
  SELECT NULLIF(ARRAY(SELECT regexp_replace(c, '^rsdbl\\.', '') FROM unnest(COALESCE(cfg, '{}')) WITH ORDINALITY AS u(c, i)
    WHERE c NOT LIKE 'rsdbl.kind=%' AND c NOT LIKE 'rsdbl.syslog_access=%'
      AND c NOT LIKE 'rsdbl.session_timeout=%' AND c NOT LIKE 'rsdbl.role_owner=%'
    ORDER BY i), '{}')
$f$;

CREATE OR REPLACE VIEW redshift_double.pg_user AS
SELECT r.rolname::name AS usename, r.oid::integer AS usesysid, r.rolcreatedb AS usecreatedb, r.rolsuper AS usesuper,
       false AS usecatupd, '********'::text AS passwd, r.rolvaliduntil AS valuntil, redshift_double.user_config(r.rolconfig) AS useconfig
FROM pg_roles r WHERE r.rolcanlogin;

CREATE OR REPLACE VIEW redshift_double.pg_user_info AS
SELECT u.*, CASE WHEN r.rolconnlimit < 0 THEN 'UNLIMITED' ELSE r.rolconnlimit::text END AS useconnlimit
FROM redshift_double.pg_user u JOIN pg_roles r ON r.oid = u.usesysid;

CREATE OR REPLACE VIEW redshift_double.svl_user_info AS
SELECT r.rolname::text AS usename, r.oid::integer AS usesysid, r.rolcreatedb AS usecreatedb, r.rolsuper AS usesuper, false AS usecatupd,
       CASE WHEN r.rolconnlimit < 0 THEN 'UNLIMITED' ELSE r.rolconnlimit::text END AS useconnlimit,
       COALESCE(redshift_double.role_setting(r.oid, 'rsdbl.syslog_access'), 'RESTRICTED') AS syslogaccess,
       NULL::timestamp AS last_ddl_ts,
       COALESCE(redshift_double.role_setting(r.oid, 'rsdbl.session_timeout')::integer, 0) AS sessiontimeout,
       NULL::text AS external_id
FROM pg_roles r WHERE r.rolcanlogin;

CREATE OR REPLACE VIEW redshift_double.svv_user_info AS
SELECT usename AS user_name, usesysid AS user_id, usecreatedb AS createdb, usesuper AS superuser, usecatupd AS catalog_update,
       useconnlimit AS connection_limit, syslogaccess AS syslog_access, last_ddl_ts AS last_ddl_timestamp,
       sessiontimeout AS session_timeout, external_id AS external_user_id
FROM redshift_double.svl_user_info;

CREATE OR REPLACE VIEW redshift_double.pg_group AS
SELECT g.rolname::name AS groname, g.oid::integer AS grosysid,
       ARRAY(SELECT m.member::integer FROM pg_auth_members m JOIN pg_roles u ON u.oid = m.member AND u.rolcanlogin
             WHERE m.roleid = g.oid ORDER BY m.member)::integer[] AS grolist
FROM pg_roles g
WHERE NOT g.rolcanlogin AND redshift_double.identity_kind(g.oid) = 'group' AND g.rolname !~ '^pg_';

CREATE OR REPLACE VIEW redshift_double.svv_roles AS
SELECT r.oid::integer AS role_id, r.rolname::text AS role_name,
       COALESCE(redshift_double.role_setting(r.oid, 'rsdbl.role_owner'), '') AS role_owner, NULL::text AS external_id
FROM pg_roles r WHERE redshift_double.identity_kind(r.oid) = 'role';

CREATE OR REPLACE VIEW redshift_double.svv_user_grants AS
SELECT u.oid::integer AS user_id, u.rolname::text AS user_name, r.oid::integer AS role_id, r.rolname::text AS role_name, m.admin_option
FROM pg_auth_members m JOIN pg_roles u ON u.oid = m.member AND u.rolcanlogin JOIN pg_roles r ON r.oid = m.roleid
WHERE redshift_double.identity_kind(r.oid) = 'role';

CREATE OR REPLACE VIEW redshift_double.svv_role_grants AS
SELECT g.oid::integer AS role_id, g.rolname::text AS role_name, r.oid::integer AS granted_role_id, r.rolname::text AS granted_role_name
FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.member JOIN pg_roles r ON r.oid = m.roleid
WHERE redshift_double.identity_kind(g.oid) = 'role' AND redshift_double.identity_kind(r.oid) = 'role';

-- Postgres privilege names -> Redshift's (TRUNCATE holds Redshift's DROP); NULL: not a Redshift privilege.
CREATE OR REPLACE FUNCTION redshift_double.privilege_name(p text) RETURNS text LANGUAGE sql IMMUTABLE AS $f$
  SELECT CASE p WHEN 'TRUNCATE' THEN 'DROP' WHEN 'SELECT' THEN 'SELECT' WHEN 'INSERT' THEN 'INSERT' WHEN 'UPDATE' THEN 'UPDATE'
                WHEN 'DELETE' THEN 'DELETE' WHEN 'REFERENCES' THEN 'REFERENCES' END
$f$;

CREATE OR REPLACE FUNCTION redshift_double.identity_type(r oid) RETURNS text LANGUAGE sql STABLE AS $f$
  SELECT CASE WHEN r = 0 THEN 'public' ELSE redshift_double.identity_kind(r) END
$f$;

CREATE OR REPLACE VIEW redshift_double.svv_relation_privileges AS
SELECT n.nspname::text AS namespace_name, c.relname::text AS relation_name, redshift_double.privilege_name(a.privilege_type) AS privilege_type,
       a.grantee::integer AS identity_id, CASE WHEN a.grantee = 0 THEN 'public' ELSE pg_get_userbyid(a.grantee)::text END AS identity_name,
       redshift_double.identity_type(a.grantee) AS identity_type,
       (a.is_grantable AND redshift_double.identity_type(a.grantee) = 'user') AS admin_option
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a
WHERE c.relkind IN ('r', 'p', 'v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'redshift_double')
  AND n.nspname !~ '^pg_toast' AND a.grantee <> c.relowner AND redshift_double.privilege_name(a.privilege_type) IS NOT NULL;

CREATE OR REPLACE VIEW redshift_double.svv_column_privileges AS
SELECT n.nspname::text AS namespace_name, c.relname::text AS relation_name, att.attname::text AS column_name, a.privilege_type::text AS privilege_type,
       a.grantee::integer AS identity_id, CASE WHEN a.grantee = 0 THEN 'public' ELSE pg_get_userbyid(a.grantee)::text END AS identity_name,
       redshift_double.identity_type(a.grantee) AS identity_type
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute att ON att.attrelid = c.oid AND att.attnum > 0 AND NOT att.attisdropped AND att.attacl IS NOT NULL, aclexplode(att.attacl) a
WHERE c.relkind IN ('r', 'p', 'v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'redshift_double')
  AND a.grantee <> c.relowner AND a.privilege_type IN ('SELECT', 'UPDATE');

-- pg_class.relacl as Redshift prints it: users as name=..., groups as "group name=...", PUBLIC as =...,
-- letters a r w d R x t D (DROP is D; TRIGGER, which only an owner holds, shows as Redshift's R and t),
-- * after a letter for WITH GRANT OPTION. Redshift roles are left out: Redshift lists role grants in
-- svv_relation_privileges (the guide documents no relacl form for them).
CREATE OR REPLACE FUNCTION redshift_double.acl_name(r oid) RETURNS text LANGUAGE sql STABLE AS $f$
  SELECT CASE WHEN n ~ '^[A-Za-z0-9_]+$' THEN n ELSE '"' || replace(n, '"', '""') || '"' END
  FROM (SELECT pg_get_userbyid(r)::text AS n) x
$f$;

CREATE OR REPLACE FUNCTION redshift_double.relacl(acl aclitem[]) RETURNS text[] LANGUAGE sql STABLE AS $f$
  SELECT CASE WHEN acl IS NULL THEN NULL ELSE ARRAY(
    SELECT CASE WHEN e.grantee = 0 THEN '' WHEN redshift_double.identity_kind(e.grantee) = 'group' THEN 'group ' || redshift_double.acl_name(e.grantee)
                ELSE redshift_double.acl_name(e.grantee) END
           || '=' || e.letters || '/' || redshift_double.acl_name(e.grantor)
    FROM (
      SELECT item.ord, x.grantee, x.grantor, string_agg(l.letter || CASE WHEN x.is_grantable THEN '*' ELSE '' END, '' ORDER BY l.pos) AS letters
      FROM unnest(acl) WITH ORDINALITY AS item(it, ord)
      CROSS JOIN LATERAL aclexplode(ARRAY[item.it]) x
      JOIN (VALUES ('INSERT', 'a', 1), ('SELECT', 'r', 2), ('UPDATE', 'w', 3), ('DELETE', 'd', 4), ('TRIGGER', 'R', 5),
                   ('REFERENCES', 'x', 6), ('TRIGGER', 't', 7), ('TRUNCATE', 'D', 8)) AS l(priv, letter, pos) ON l.priv = x.privilege_type
      WHERE x.grantee = 0 OR redshift_double.identity_kind(x.grantee) <> 'role'
      GROUP BY item.ord, x.grantee, x.grantor
    ) e ORDER BY e.ord) END
$f$;
`;
