import { describe, expect, it } from 'vitest';
import { ConfigError, loadEnv } from '../src/config/env.js';
import { ConnectionResolveError, redactUrl, resolveConnectionString } from '../src/config/connection.js';

describe('loadEnv', () => {
  it('applies defaults', () => {
    const env = loadEnv({ DATABASE_URL: 'postgres://u:p@h/db' }, ['DATABASE_URL']);
    expect(env.IMPORT_ROW_LIMIT).toBe(100_000);
    expect(env.AWS_REGION).toBe('us-east-1');
    expect(env.LOG_LEVEL).toBe('info');
  });

  it('reports every bad or missing variable on its own line, naming it', () => {
    let err: unknown;
    try {
      loadEnv({ IMPORT_ROW_LIMIT: 'ten', IMPORT_CHUNK_SIZE: '0', LOG_LEVEL: 'loud', DATABASE_URL: 'mysql://x' }, ['DATABASE_URL', 'S3_BUCKET']);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const lines = (err as ConfigError).problems;
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^IMPORT_ROW_LIMIT: .*"ten"/),
        expect.stringMatching(/^IMPORT_CHUNK_SIZE: must be greater than 0/),
        expect.stringMatching(/^LOG_LEVEL: /),
        expect.stringMatching(/^DATABASE_URL: must be a postgres:\/\/ URL$/),
        'S3_BUCKET: is required but not set',
      ]),
    );
    // The URL itself is not echoed (it may carry a password).
    expect((err as Error).message).not.toContain('mysql://x');
  });

  it('REDSHIFT_URL takes postgres:// and redshift:// URLs, and names the variable otherwise', () => {
    expect(loadEnv({ REDSHIFT_URL: 'redshift://u:p@cluster.example.com:5439/dev' }).REDSHIFT_URL).toBe('redshift://u:p@cluster.example.com:5439/dev');
    expect(loadEnv({ REDSHIFT_URL: 'postgres://u@h:5439/dev' }).REDSHIFT_URL).toBe('postgres://u@h:5439/dev');
    expect(() => loadEnv({ REDSHIFT_URL: 'jdbc:redshift://h:5439/dev' })).toThrow(/REDSHIFT_URL: must be a postgres:\/\/ or redshift:\/\/ URL/);
  });

  it('treats empty strings as unset', () => {
    expect(() => loadEnv({ DATABASE_URL: '' }, ['DATABASE_URL'])).toThrow(/DATABASE_URL: is required/);
  });
});

describe('resolveConnectionString', () => {
  it('resolves env: references', () => {
    expect(resolveConnectionString('env:SRC', 'job a source', { SRC: 'postgres://a@b/c' })).toBe('postgres://a@b/c');
  });
  it('names the job and the variable when it is missing', () => {
    expect(() => resolveConnectionString('env:NOPE', 'job "a" source', {})).toThrow(
      new ConnectionResolveError('job "a" source: environment variable NOPE is not set'),
    );
  });
  it('rejects other strings without echoing a password', () => {
    expect(() => resolveConnectionString('mysql://u:secret@h/d', 'job "a" destination', {})).toThrow(/mysql:\/\/u:\*\*\*@h\/d/);
  });
  it('redacts passwords in URLs', () => {
    expect(redactUrl('connect postgres://user:s3cr3t@host:5432/db failed')).toBe('connect postgres://user:***@host:5432/db failed');
  });
});
