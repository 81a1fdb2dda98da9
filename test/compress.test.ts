import { gunzipSync } from 'node:zlib';
import { Decoder } from '@toondepauw/node-zstd';
import { describe, expect, it } from 'vitest';
import { ZSTD_FRAME_BYTES, compressionFromEnv, createCompressWriter, type Compression } from '../src/extract/compress.js';
import { loadEnv } from '../src/config/env.js';

async function roundTrip(c: Compression, input: Buffer, writeSize: number): Promise<{ out: Buffer; compressed: number }> {
  const w = createCompressWriter(c);
  const parts: Buffer[] = [];
  const read = new Promise<void>((resolve, reject) => {
    w.output.on('data', (d: Buffer) => parts.push(d));
    w.output.on('end', resolve);
    w.output.on('error', reject);
  });
  for (let i = 0; i < input.length; i += writeSize) await w.write(input.subarray(i, i + writeSize));
  await w.end();
  await read;
  const bytes = Buffer.concat(parts);
  const out = c.format === 'gzip' ? gunzipSync(bytes) : await new Decoder().decode(bytes);
  return { out, compressed: bytes.length };
}

describe('compression of the staging files', () => {
  // CSV-like rows, a little over 2.5 frames: the zstd file holds 3 frames, cut mid-record.
  const row = (i: number) => `"${i}","2024-01-01 00:00:${String(i % 60).padStart(2, '0')}+00","note ${(i * 7919) % 100003}","{""k"": ${i % 10}}"\n`;
  const rows: string[] = [];
  let size = 0;
  for (let i = 1; size < 2.5 * ZSTD_FRAME_BYTES; i++) {
    const r = row(i);
    rows.push(r);
    size += r.length;
  }
  const input = Buffer.from(rows.join(''));

  it.each<Compression>([
    { format: 'zstd', level: 1 },
    { format: 'zstd', level: -3 },
    { format: 'gzip', level: 1, windowBits: 14 },
  ])('$format level $level: a file over several frames decodes to the exact input', async (c) => {
    const { out, compressed } = await roundTrip(c, input, 65_536 + 17);
    expect(out.equals(input)).toBe(true);
    expect(compressed).toBeLessThan(input.length / 2);
  });

  it.each<Compression>([
    { format: 'zstd', level: 1 },
    { format: 'gzip', level: 1 },
  ])('$format: an empty file is still a valid file of that format', async (c) => {
    const { out, compressed } = await roundTrip(c, Buffer.alloc(0), 1);
    expect(out.length).toBe(0);
    expect(compressed).toBeGreaterThan(0);
  });

  it('settings come from COMPRESSION, ZSTD_LEVEL, GZIP_LEVEL and GZIP_WINDOW_BITS; zstd level 1 is the default', () => {
    expect(compressionFromEnv(loadEnv({}))).toEqual({ format: 'zstd', level: 1 });
    expect(compressionFromEnv(loadEnv({ COMPRESSION: 'gzip', GZIP_LEVEL: '3' }))).toEqual({ format: 'gzip', level: 3, windowBits: 14 });
    expect(compressionFromEnv(loadEnv({ ZSTD_LEVEL: '-2' }))).toEqual({ format: 'zstd', level: -2 });
    expect(() => loadEnv({ COMPRESSION: 'lzop' })).toThrow(/COMPRESSION: .*zstd.*gzip/);
  });
});
