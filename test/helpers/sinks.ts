import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FileSink } from '../../src/extract/extract.js';

/** Keeps each file's compressed bytes in memory (small test data), keyed by S3 key. */
export function memorySink(files: Map<string, Buffer>) {
  return (key: string, body: Readable): FileSink => {
    const parts: Buffer[] = [];
    return {
      done: pipeline(body, new Writable({ write: (c: Buffer, _e, cb) => (parts.push(c), cb()) })).then(() => files.set(key, Buffer.concat(parts))),
      abort: async () => undefined,
    };
  };
}
