import { afterEach, describe, expect, it } from 'vitest';
import { clearRegisteredSecrets, redactSecrets, registerSecretsFromEnv } from '../src/secrets.js';

describe('redactSecrets', () => {
  afterEach(() => clearRegisteredSecrets());

  it.each([
    ['a well-formed URL', 'connect postgres://user:Secret@host:5432/db failed', 'connect postgres://user:***@host:5432/db failed'],
    ['a scheme without its colon', 'got postgres//user:Secret@host/db', 'got postgres//user:***@host/db'],
    ['a scheme with one slash', 'got postgresql:/x:Secret@', 'got postgresql:/x:***@'],
    ['a password with / and @', 'postgres://u:Se/c@ret@h/db', 'postgres://u:***@h/db'],
    ['a password with //', 'postgres://u:Se//cret@h/db', 'postgres://u:***@h/db'],
    ['no scheme at all', 'host=x user:Secret@db.example.com', 'host=x user:***@db.example.com'],
    ['a quoted URL in JSON', '{"url":"redshift://admin:Secret@c.example.com:5439/dev"}', '{"url":"redshift://admin:***@c.example.com:5439/dev"}'],
    ['a password in the query string', 'postgres://h/db?sslmode=require&password=Secret', 'postgres://h/db?sslmode=require&password=***'],
    ['a libpq keyword string', "host=h password=Secret dbname=d", 'host=h password=*** dbname=d'],
    ['a quoted libpq password', "host=h password='Se cret' dbname=d", "host=h password='***' dbname=d"],
    ['CREDENTIALS', "CREDENTIALS 'aws_access_key_id=AKIA1;aws_secret_access_key=Secret;token=Secret'", "CREDENTIALS 'aws_access_key_id=AKIA1;aws_secret_access_key=***;token=***'"],
    ['IAM_ROLE holding keys by mistake', "IAM_ROLE 'aws_access_key_id=AKIA1;aws_secret_access_key=Secret'", "IAM_ROLE 'aws_access_key_id=AKIA1;aws_secret_access_key=***'"],
    ['COPY credential parameters', "ACCESS_KEY_ID 'AKIA1' SECRET_ACCESS_KEY 'Secret' SESSION_TOKEN 'Secret'", "ACCESS_KEY_ID 'AKIA1' SECRET_ACCESS_KEY '***' SESSION_TOKEN '***'"],
    ['a PASSWORD clause', "CREATE USER bob PASSWORD 'Secret1A'", "CREATE USER bob PASSWORD '***'"],
    ['JSON keys', '{"SecretAccessKey":"Secret","SessionToken":"Secret"}', '{"SecretAccessKey":"***","SessionToken":"***"}'],
    ['a presigned URL', 'https://b.s3.amazonaws.com/k?X-Amz-Security-Token=Secret&X-Amz-Signature=Secret', 'https://b.s3.amazonaws.com/k?X-Amz-Security-Token=***&X-Amz-Signature=***'],
  ])('masks %s', (_what, input, want) => {
    expect(redactSecrets(input)).toBe(want);
    expect(redactSecrets(want)).toBe(want);
  });

  it('leaves ordinary text alone: addresses, hosts with ports, S3 URLs, prose', () => {
    for (const s of ['mail c1@example.com', 'postgres://host:5432/db', 'user@host:5432', 's3://bucket/prefix/key', 'password authentication failed for user "bob"', 'job "a", table public.t: the password: is wrong']) {
      expect(redactSecrets(s)).toBe(s);
    }
  });

  it('masks registered values wherever they appear, also URL-encoded: secret variables and the passwords of URL variables', () => {
    registerSecretsFromEnv({
      AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      ALERT_WEBHOOK_URL: 'https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX',
      SRC_URL: 'postgres://u:p%40ssw0rd-long-enough@h/db',
      PGPASSWORD: 'short',
    });
    expect(redactSecrets('the key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY leaked')).toBe('the key *** leaked');
    expect(redactSecrets(`encoded ${encodeURIComponent('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY')}`)).toBe('encoded ***');
    expect(redactSecrets('POST https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX failed')).toBe('POST *** failed');
    expect(redactSecrets('auth p@ssw0rd-long-enough rejected')).toBe('auth *** rejected');
    // Short values are not registered: they would mask ordinary words.
    expect(redactSecrets('a short answer')).toBe('a short answer');
  });
});
