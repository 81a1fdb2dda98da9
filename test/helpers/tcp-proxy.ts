import net from 'node:net';

/**
 * A TCP proxy in front of a server (the test stack's S3) that can hold all traffic: while
 * paused, bytes in both directions wait and new connections are accepted but not yet
 * forwarded. So a test can stall a dependency at a chosen moment, as a network or a slow
 * S3 would, and release it again.
 */
export interface TcpProxy {
  /** http://127.0.0.1:<port>, for S3_ENDPOINT. */
  url: string;
  pause(): void;
  /** Holds only connections that send an upload (a PUT or POST request); reads and lists go on. */
  pauseUploads(): void;
  resume(): void;
  /** Connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

export async function tcpProxy(target: string): Promise<TcpProxy> {
  const t = new URL(target);
  let paused = false;
  let uploadsPaused = false;
  let connections = 0;
  interface Pair {
    a: net.Socket;
    b: net.Socket | null;
    /** Bytes held while paused: client to server, server to client. */
    up: Buffer[];
    down: Buffer[];
    /** This connection sent an upload while uploads are held. */
    held: boolean;
  }
  const holding = (p: Pair) => paused || p.held;
  const pairs = new Set<Pair>();
  const flush = (p: Pair) => {
    if (!p.b) {
      const b = net.connect(Number(t.port), t.hostname);
      p.b = b;
      b.on('data', (chunk: Buffer) => (holding(p) ? p.down.push(chunk) : p.a.write(chunk)));
      const end = () => {
        p.a.destroy();
        b.destroy();
        pairs.delete(p);
      };
      b.on('error', end).on('close', end);
      p.a.on('error', end).on('close', end);
    }
    for (const c of p.up.splice(0)) p.b.write(c);
    for (const c of p.down.splice(0)) p.a.write(c);
  };
  const server = net.createServer((a) => {
    connections++;
    const p: Pair = { a, b: null, up: [], down: [], held: false };
    pairs.add(p);
    a.on('data', (chunk: Buffer) => {
      if (uploadsPaused && /^(PUT|POST) /.test(chunk.subarray(0, 5).toString('latin1'))) p.held = true;
      if (holding(p) || !p.b) p.up.push(chunk);
      else p.b.write(chunk);
    });
    a.on('error', () => a.destroy());
    if (!paused) flush(p);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    get connections() {
      return connections;
    },
    pause() {
      paused = true;
    },
    pauseUploads() {
      uploadsPaused = true;
    },
    resume() {
      paused = false;
      uploadsPaused = false;
      for (const p of pairs) {
        p.held = false;
        flush(p);
      }
    },
    async close() {
      for (const p of pairs) {
        p.a.destroy();
        p.b?.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
