import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROBE_ROWS, probeCsvLine, probeFile } from '../src/doctor/probe.js';
import * as dsql from '../src/doctor/sql.js';
import { copyToStdoutSql } from '../src/redshift/csv.js';
import { cli } from './helpers/cli.js';
import { freshDatabase, stackEnv } from './helpers/stack.js';
import { syncFixture, type SyncFixture } from './helpers/sync-fixture.js';

/**
 * Issue 19, point 7: `redshift-loader doctor --job NAME` against the stack (it must pass
 * there) and with broken pieces, each failure naming its fix.
 */
describe('doctor', () => {
  let f: SyncFixture;
  let env: Record<string, string | undefined>;
  const doctor = (extra: Record<string, string | undefined> = {}, job = 'doc_job') => cli(['doctor', '--job', job], { ...env, ...extra });

  beforeAll(async () => {
    f = await syncFixture('doc');
    env = { ...f.target.env, DATABASE_URL: f.metaUrl, RL_TEST_SRC_DOC: f.sourceUrl, RL_TEST_DST_DOC: f.target.url };
    await f.source(`CREATE TABLE orders (id int PRIMARY KEY, note text, updated_at timestamptz NOT NULL DEFAULT now())`);
    await f.redshift(`CREATE TABLE ${f.target.schema}.orders (id INTEGER NOT NULL, note VARCHAR(256), updated_at TIMESTAMPTZ NOT NULL)`);
    await f.addTable({ source: 'orders', mode: 'INSERT_AND_UPDATE', primaryKey: 'id', updatedKey: 'updated_at' });
  });
  afterAll(() => f.close());

  it('the probe file is the extract\'s own CSV: Postgres writes the same bytes for the same values', async () => {
    const values = PROBE_ROWS.map((r) => `(${r.id}, ${r.v === null ? 'NULL' : pg.escapeLiteral(r.v)}::text, ${r.ts === null ? 'NULL' : pg.escapeLiteral(r.ts)}::timestamptz)`).join(', ');
    const c = new pg.Client({ connectionString: f.sourceUrl });
    await c.connect();
    try {
      await c.query(`SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'`);
      const stream = c.query(copyTo(copyToStdoutSql(`SELECT * FROM (VALUES ${values}) v(id, v, ts) ORDER BY id`)));
      let csv = '';
      for await (const chunk of stream) csv += (chunk as Buffer).toString('utf8');
      expect(csv).toBe(PROBE_ROWS.map(probeCsvLine).join(''));
    } finally {
      await c.end();
    }
    expect(probeFile({ format: 'zstd', level: 1 }).frames).toBe(PROBE_ROWS.length);
  });

  it('its Redshift statements', () => {
    expect(
      [
        dsql.REDSHIFT_SESSION_SQL, dsql.TEMP_PRIVILEGE_SQL, dsql.SCHEMA_PRIVILEGES_SQL, dsql.TABLE_EXISTS_SQL, dsql.TABLE_PRIVILEGES_SQL, dsql.SLICES_SQL,
        dsql.CASE_SENSITIVITY_SQL, dsql.COLLATION_SQL, dsql.probeTableSql('rl_doctor_x'), dsql.probeRowSql('rl_doctor_x'), dsql.probeCountSql('rl_doctor_x'),
      ].join(';\n\n'),
    ).toMatchSnapshot();
  });

  it('passes against the stack: one line per check, exit 0', async () => {
    const r = await doctor();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trimEnd().split('\n');
    const names = lines.slice(0, -1).map((l) => /^(\S+)\s+([^:]+):/.exec(l)!.slice(1, 3).join(' '));
    expect(names).toEqual([
      'ok metadata DB', 'ok job', 'ok source', 'ok source TimeZone', 'ok source SELECT', 'ok source pg_read_all_stats',
      'ok Redshift', 'ok Redshift flavour', 'ok Redshift slices', 'ok Redshift TEMP', `ok Redshift schema "${f.target.schema}"`, 'ok Redshift targets',
      'ok Redshift identifiers', 'ok Redshift collation', 'ok S3 put', 'ok S3 get', 'ok S3 list', 'ok S3 delete',
      // The double reads a quoted "__RL_NULL__" as NULL (its documented choice): a warning, not a failure.
      'WARN COPY round trip',
    ]);
    expect(lines).toContain('ok    Redshift flavour: provisioned (stv_slices is readable)');
    expect(lines).toContain('ok    Redshift slices: 2 (stv_slices), as REDSHIFT_SLICES says');
    expect(lines.at(-2)).toBe(
      `WARN  COPY round trip: 5 rows from a zstd file of 5 frames read back value by value: NULL, '' (not NULL), "__RL_NULL__" as NULL, quotes, commas, a newline, \\N, UTF-8, timestamptz instants; the quoted text "__RL_NULL__" arrives as NULL (README, Known limitations). Fix: no source text may equal "__RL_NULL__" on this cluster`,
    );
    expect(lines.at(-1)).toBe('doctor: ready: 19 passed, 1 with a warning');
    // Nothing left behind in S3.
    expect((await f.s3Keys()).filter((k) => k.includes('/doctor-'))).toEqual([]);
  });

  it('with gzip: one gzip file', async () => {
    const r = await doctor({ COMPRESSION: 'gzip' });
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/^WARN {2}COPY round trip: 5 rows from a gzip file read back value by value: /m);
  });

  it('a bucket that does not exist: S3 put fails naming bucket, key and the fix; the COPY is skipped; exit 1', async () => {
    await f.meta(`UPDATE jobs SET s3_bucket = 'no-such-bucket' WHERE id = $1`, [f.jobId]);
    try {
      const r = await doctor();
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(
        /^FAIL {2}S3 put: S3 could not write s3:\/\/no-such-bucket\/redshift-loader-test\/doc_job\/doctor-[0-9a-f]{8}\/probe\.txt: The specified bucket does not exist\. Fix: check the bucket name and AWS_REGION \(us-east-1\); the worker needs s3:PutObject on arn:aws:s3:::no-such-bucket\/redshift-loader-test\/doc_job\/\*$/m,
      );
      expect(r.stdout).toContain('skip  COPY round trip: needs S3, which failed above\n');
      expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('doctor: NOT READY: 14 passed, 1 failed, 1 skipped');
    } finally {
      await f.meta(`UPDATE jobs SET s3_bucket = NULL WHERE id = $1`, [f.jobId]);
    }
  });

  it('an unreachable source: the job, the side, host:port and the fix; exit 1', async () => {
    const r = await doctor({ RL_TEST_SRC_DOC: 'postgres://loader:Sekr3tXq@127.0.0.1:1/shop' });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      'FAIL  source: cannot connect to 127.0.0.1:1/shop: connect ECONNREFUSED 127.0.0.1:1. Fix: check env:RL_TEST_SRC_DOC (jobs.source_connection_string), that the server accepts connections from this host (security group, pg_hba.conf), and the user and password\n',
    );
    expect(r.stdout).toContain('skip  source tables: the source is not reachable\n');
    expect(r.stdout).not.toContain('Sekr3tXq');
  });

  it('a source user without SELECT or pg_read_all_stats; REDSHIFT_SLICES that is not the cluster\'s', async () => {
    const role = `doc_${randomBytes(3).toString('hex')}`;
    await f.source(`CREATE ROLE ${role} LOGIN PASSWORD 'Passw0rd-doc'`);
    const u = new URL(f.sourceUrl);
    u.username = role;
    u.password = 'Passw0rd-doc';
    const r = await doctor({ RL_TEST_SRC_DOC: u.toString(), REDSHIFT_SLICES: '4' });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`FAIL  source SELECT: "${role}" may not read "public"."orders". Fix: GRANT SELECT ON "public"."orders" TO "${role}"; (redshift-loader grants --job doc_job prints them all)\n`);
    expect(r.stdout).toContain(
      `WARN  source pg_read_all_stats: "${role}" cannot see other sessions' open transactions, so late commits are covered only by UPDATED_KEY_OVERLAP_SECONDS. Fix: GRANT pg_read_all_stats TO "${role}";\n`,
    );
    expect(r.stdout).toContain('FAIL  Redshift slices: the cluster has 2 slices (stv_slices) but REDSHIFT_SLICES is 4: batches are cut into a multiple of 4 files, so slices sit idle or wait. Fix: set REDSHIFT_SLICES=2\n');
  });

  it('a job with a CDC table: what change capture needs at the source (wal_level, REPLICATION, a free slot), with the fix', async () => {
    await f.source(`CREATE TABLE events (id int PRIMARY KEY, kind text)`);
    await f.redshift(`CREATE TABLE ${f.target.schema}.events (id INTEGER NOT NULL, kind VARCHAR(256))`);
    await f.addTable({ source: 'events', mode: 'CDC', primaryKey: 'id' });
    try {
      // The stack's source runs wal_level = logical and the suite's user is a superuser.
      const ok = await doctor();
      expect(ok.stdout).toContain('ok    source CDC: wal_level = logical, "postgres" may read the write-ahead log; replication slot "');
      expect(ok.stdout).toContain('will be created by the first sync (1 CDC table(s))');
      // A user without REPLICATION: the first CDC run would fail; doctor says so first.
      const role = `doc_cdc_${randomBytes(3).toString('hex')}`;
      await f.source(`CREATE ROLE ${role} LOGIN PASSWORD 'Passw0rd-doc'`);
      await f.source(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${role}`);
      const u = new URL(f.sourceUrl);
      u.username = role;
      u.password = 'Passw0rd-doc';
      const r = await doctor({ RL_TEST_SRC_DOC: u.toString() });
      expect(r.code).toBe(1);
      expect(r.stdout).toContain(
        `FAIL  source CDC: job "doc_job": the source user "${role}" may not read the write-ahead log; copy_mode CDC needs the REPLICATION privilege: ALTER ROLE "${role}" WITH REPLICATION (Amazon RDS/Aurora: GRANT rds_replication TO "${role}")\n`,
      );
    } finally {
      await f.meta(`DELETE FROM tables WHERE source_name = 'events' AND job_id = (SELECT id FROM jobs WHERE name = 'doc_job')`);
    }
  });

  it('Serverless: told by stv_slices not being readable; the slice check is skipped', async () => {
    const db = new URL(f.target.url).pathname.slice(1);
    const serverless = new URL(stackEnv().REDSHIFT_SERVERLESS_URL);
    serverless.pathname = `/${db}`;
    const r = await doctor({ RL_TEST_DST_DOC: serverless.toString() });
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain('ok    Redshift flavour: Serverless (stv_slices is not readable): SNAPSHOT isolation, loads listed in sys_load_history\n');
    expect(r.stdout).toMatch(/^skip {2}Redshift slices: slice count not visible \(stv_slices is not available on Amazon Redshift Serverless .*\); REDSHIFT_SLICES=2 is used as it is$/m);
  });

  it('a metadata DB that is not migrated: that, the fix, and nothing else', async () => {
    const { url } = await freshDatabase('doc_nomig');
    const r = await doctor({ DATABASE_URL: url });
    const host = new URL(url);
    expect(r).toEqual({
      code: 1,
      stderr: '',
      stdout:
        `FAIL  metadata DB: ${host.hostname}:${host.port}${host.pathname} is reachable but has no redshift-loader tables. Fix: run redshift-loader migrate (or check that DATABASE_URL names the right database)\n` +
        'skip  everything else: the other checks read the job from a migrated metadata DB\n' +
        'doctor: NOT READY: 0 passed, 1 failed, 1 skipped\n',
    });
  });
});
