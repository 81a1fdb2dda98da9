import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/apply/file.js';

const ok = (text: string) => {
  const r = parseConfigText(text, 'shop.yaml');
  if (!r.ok) throw new Error(r.problems.join('\n'));
  return r.config;
};
const problems = (text: string, file = 'shop.yaml') => {
  const r = parseConfigText(text, file);
  if (r.ok) throw new Error('expected problems');
  return r.problems;
};

const JOB = `
version: 1
jobs:
  - name: shop
    source_connection_string: env:SHOP_DATABASE_URL
    destination_connection_string: env:REDSHIFT_URL
`;

describe('configuration files', () => {
  it('fill every left-out key with the column default; lists become comma text; JSON reads the same as YAML', () => {
    const yaml = ok(`${JOB}    tables:
      - { source_name: items, copy_mode: INSERT_ONLY, primary_key: [order_id, line] }
    schedules:
      - { frequency: 900, at: "**:30" }
`);
    expect(yaml.jobs[0]!.values).toEqual({
      name: 'shop',
      source_connection_string: 'env:SHOP_DATABASE_URL',
      destination_connection_string: 'env:REDSHIFT_URL',
      destination_schema: 'public',
      s3_bucket: null,
      s3_prefix: null,
      iam_role: null,
      enabled: true,
    });
    expect(yaml.jobs[0]!.tables[0]!.values).toMatchObject({ source_schema: 'public', source_name: 'items', copy_mode: 'INSERT_ONLY', primary_key: 'order_id, line', disabled: false, delete_detection: false, value_policies: null });
    expect(yaml.jobs[0]!.schedules[0]!.values).toEqual({ frequency: 900, at: '**:30', timezone: 'UTC', enabled: true });
    const json = parseConfigText(
      JSON.stringify({ version: 1, jobs: [{ name: 'shop', source_connection_string: 'env:SHOP_DATABASE_URL', destination_connection_string: 'env:REDSHIFT_URL', tables: [{ source_name: 'items', copy_mode: 'INSERT_ONLY', primary_key: ['order_id', 'line'] }], schedules: [{ frequency: 900, at: '**:30' }] }] }),
      'shop.json',
    );
    expect(json).toEqual({ ok: true, config: yaml });
  });

  it('give one line per problem: the file, line and column, the path in the file and the rule', () => {
    expect(
      problems(`version: 1
jobs:
  - name: shop
    source_connection_string: postgres://loader:Secret123@db.example.com/shop
    destination_connection_string: env:REDSHIFT_URL
    enabled: yes
    tables:
      - source_name: orders
        copy_mode: INSERT
        max_primary_key: ["1"]
      - source_name: items
        copy_mode: INSERT_AND_UPDATE
        primary_key: [id]
        row_limit: -3
        copymode: x
        exclude_columns: id
        value_policies: {text_too_long: chop}
      - source_name: items
        copy_mode: FULL_DATA_SYNC
    schedules:
      - frequency: 0
        at: "25:00"
        timezone: Mars/Base
  - name: shop
    destination_connection_string: env:X
`),
    ).toEqual([
      'shop.yaml:4:5: jobs[0].source_connection_string: holds a password, which must not be in a file kept in git: write env:SHOP_SOURCE_URL and set SHOP_SOURCE_URL to the URL where the worker runs',
      'shop.yaml:6:5: jobs[0].enabled: must be true or false (got "yes")',
      'shop.yaml:9:9: jobs[0].tables[0].copy_mode: must be one of INSERT_ONLY, INSERT_AND_UPDATE, FULL_DATA_SYNC, CDC (got "INSERT")',
      'shop.yaml:10:9: jobs[0].tables[0].max_primary_key: cannot be set in a file: max_primary_key is a watermark, written by the loader; `redshift-loader reset` sets it to NULL',
      'shop.yaml:11:9: jobs[0].tables[1].updated_key: copy_mode INSERT_AND_UPDATE needs updated_key (a timestamp, timestamptz or date column)',
      'shop.yaml:14:9: jobs[0].tables[1].row_limit: must be greater than 0 (got -3)',
      'shop.yaml:15:9: jobs[0].tables[1].copymode: unknown key; did you mean copy_mode? (keys here: source_schema, source_name, destination_schema, destination_name, copy_mode, primary_key, updated_key, disabled, row_limit, chunk_size, dist_key, sort_keys, include_columns, exclude_columns, delete_detection, delete_detection_minutes, updated_key_time_zone, allow_duplicate_keys, value_policies)',
      'shop.yaml:16:9: jobs[0].tables[1].exclude_columns: leaves out key column(s) id; key columns are always synced',
      'shop.yaml:17:9: jobs[0].tables[1].value_policies: text_too_long is "chop"; allowed: fail, null, truncate',
      'shop.yaml:18:9: jobs[0].tables[2].source_name: table public.items is also jobs[0].tables[1]; a table is listed once per job',
      'shop.yaml:21:9: jobs[0].schedules[0].frequency: must be greater than 0 (got 0)',
      'shop.yaml:22:9: jobs[0].schedules[0].at: bad at pattern "25:00": hour 25 never matches (hours are 00-23)',
      'shop.yaml:23:9: jobs[0].schedules[0].timezone: unknown timezone "Mars/Base": expected an IANA name like UTC or America/New_York',
      'shop.yaml:24:5: jobs[1].source_connection_string: is required',
      'shop.yaml:24:5: jobs[1].name: job "shop" is also jobs[0]; job names are unique',
    ]);
  });

  it('never print a secret, even in a value that is wrong for other reasons', () => {
    const lines = problems(`jobs:\n  - name: a\n    source_connection_string: mysql://u:Secret123@h/db\n    destination_connection_string: 5\n`);
    expect(lines).toEqual([
      'shop.yaml:3:5: jobs[0].source_connection_string: must be env:VAR_NAME or a postgres:// URL',
      'shop.yaml:4:5: jobs[0].destination_connection_string: must be a string (got 5)',
    ]);
    expect(lines.join('\n')).not.toContain('Secret123');
    // A URL without a password (e.g. with a .pgpass or IAM auth) is no secret.
    expect(parseConfigText(`jobs:\n  - {name: a, source_connection_string: "postgres://reader@db/shop", destination_connection_string: env:R}\n`, 'f.yaml').ok).toBe(true);
  });

  it('say what is wrong with text that is not YAML or JSON, and with a YAML alias where a pattern was meant', () => {
    expect(problems('jobs: [\n', 'bad.json')[0]).toMatch(/^bad\.json:\d+:\d+: not valid YAML or JSON: /);
    expect(problems(`jobs:\n  - name: a\n    schedules:\n      - {frequency: 60, at: **:30}\n`)).toEqual([
      'shop.yaml: not valid YAML: Unresolved alias (the anchor must be set before the alias): *:30 (a value starting with * must be quoted, e.g. "**:30")',
    ]);
    expect(problems('- a\n')).toEqual(['shop.yaml:1:1: (top level): must be a mapping with a `jobs` list (got ["a"])']);
  });
});
