import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A local HTTP server standing in for a Slack incoming webhook: records every request. */
export interface WebhookServer {
  url: string;
  requests: Array<{ path: string; contentType: string | undefined; body: string }>;
  /** The `text` of each JSON body received with status 200, in order. */
  texts(): string[];
  /** Status codes to answer with, in order (then 200); 'hang' never answers. */
  respond: Array<number | 'hang'>;
  /** Resolves when at least n requests were answered 200. */
  waitFor(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function webhookServer(path = '/services/T000/B000/SecretHookToken1234'): Promise<WebhookServer> {
  const requests: WebhookServer['requests'] = [];
  const ok: string[] = [];
  const waiters: Array<() => void> = [];
  const hanging: http.ServerResponse[] = [];
  const s: WebhookServer = {
    url: '',
    requests,
    respond: [],
    texts: () => ok.map((b) => (JSON.parse(b) as { text: string }).text),
    waitFor(n, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`webhook: ${ok.length} of ${n} request(s) after ${timeoutMs} ms`)), timeoutMs);
        const check = () => {
          if (ok.length >= n) {
            clearTimeout(t);
            resolve();
          } else waiters.push(check);
        };
        check();
      });
    },
    async close() {
      for (const r of hanging) r.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      requests.push({ path: req.url ?? '', contentType: req.headers['content-type'], body });
      const answer = s.respond.shift() ?? 200;
      if (answer === 'hang') {
        hanging.push(res);
        return;
      }
      res.writeHead(answer, { 'content-type': 'text/plain' }).end(answer === 200 ? 'ok' : 'error');
      if (answer === 200) {
        ok.push(body);
        for (const w of waiters.splice(0)) w();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  s.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
  return s;
}
