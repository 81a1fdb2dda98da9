import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';

function capture() {
  const out = new PassThrough();
  const lines: string[] = [];
  out.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
  return { out, lines };
}

describe('logger', () => {
  it('writes JSON lines and never writes secrets', async () => {
    const { out, lines } = capture();
    const log = createLogger({ destination: out, pretty: false });
    log.info({ job: 'j', table: 't', url: 'postgres://me:hunter2@db/x', password: 'pw', aws: { secretAccessKey: 'SECRETKEY' } }, 'connecting to postgres://me:hunter2@db/x');
    log.error({ err: new Error("COPY failed: CREDENTIALS 'aws_access_key_id=AKIA1;aws_secret_access_key=abc123'") }, 'failed');
    await new Promise((r) => setImmediate(r));
    const text = lines.join('\n');
    expect(text).not.toMatch(/hunter2|SECRETKEY|abc123|"pw"/);
    const first = JSON.parse(lines[0]!);
    expect(first).toMatchObject({ level: 'info', job: 'j', table: 't', url: 'postgres://me:***@db/x', msg: 'connecting to postgres://me:***@db/x' });
  });
});
