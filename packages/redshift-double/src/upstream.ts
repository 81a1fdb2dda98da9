import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import net from 'node:net';
import { decodeFields, fe, FrameReader, Reader, type Fields, type Frame } from './protocol.js';

/** An ErrorResponse received from the upstream Postgres. */
export class UpstreamError extends Error {
  constructor(readonly fields: Fields) {
    super(fields.M ?? 'upstream error');
  }
  get code(): string | undefined {
    return this.fields.C;
  }
}

export interface UpstreamTarget {
  host: string;
  port: number;
  user: string;
  password: string;
}

/**
 * A raw protocol connection to the upstream Postgres, authenticated with the admin
 * credentials (cleartext, md5 or SCRAM-SHA-256). After `connect`, every backend message
 * goes to `onFrame`; the session decides what to forward.
 */
export class Upstream {
  pid = 0;
  secret = 0;
  readonly parameters = new Map<string, string>();
  onFrame: (frames: Frame[]) => void = () => undefined;
  onClose: () => void = () => undefined;
  closed = false;
  private reader = new FrameReader();

  private constructor(private readonly socket: net.Socket) {}

  static async connect(target: UpstreamTarget, params: Map<string, string>): Promise<Upstream> {
    const socket = net.connect({ host: target.host, port: target.port });
    socket.setNoDelay(true);
    const up = new Upstream(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    await up.handshake(target, params);
    socket.on('data', (chunk: Buffer) => {
      let frames: Frame[];
      try {
        frames = up.reader.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      if (frames.length) up.onFrame(frames);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      up.closed = true;
      up.onClose();
    });
    return up;
  }

  private handshake(target: UpstreamTarget, params: Map<string, string>): Promise<void> {
    const socket = this.socket;
    return new Promise<void>((resolve, reject) => {
      let scram: ScramClient | null = null;
      const fail = (err: Error) => {
        socket.removeListener('data', onData);
        socket.destroy();
        reject(err);
      };
      const onData = (chunk: Buffer) => {
        let frames: Frame[];
        try {
          frames = this.reader.push(chunk);
        } catch (e) {
          return fail(e as Error);
        }
        for (const f of frames) {
          try {
            if (f.type === 'R') {
              const r = new Reader(f.payload);
              const code = r.int32();
              if (code === 0) continue;
              if (code === 3) socket.write(fe.password(target.password));
              else if (code === 5) socket.write(fe.password(md5Password(target.user, target.password, r.bytes(4))));
              else if (code === 10) {
                scram = new ScramClient(target.password);
                socket.write(fe.saslInitial('SCRAM-SHA-256', scram.first()));
              } else if (code === 11 && scram) socket.write(fe.saslResponse(scram.final(r.remaining().toString('utf8'))));
              else if (code === 12 && scram) scram.verify(r.remaining().toString('utf8'));
              else return fail(new Error(`unsupported upstream authentication method ${code}`));
            } else if (f.type === 'S') {
              const r = new Reader(f.payload);
              this.parameters.set(r.cstring(), r.cstring());
            } else if (f.type === 'K') {
              const r = new Reader(f.payload);
              this.pid = r.int32();
              this.secret = r.int32();
            } else if (f.type === 'E') {
              return fail(new UpstreamError(decodeFields(f.payload)));
            } else if (f.type === 'Z') {
              socket.removeListener('data', onData);
              socket.removeListener('error', fail);
              const rest = this.reader.rest();
              if (rest.length) this.reader.push(rest);
              return resolve();
            }
          } catch (e) {
            return fail(e as Error);
          }
        }
      };
      socket.on('data', onData);
      socket.once('error', fail);
      socket.write(fe.startup(new Map([['user', target.user], ...params])));
    });
  }

  send(buf: Buffer): void {
    if (!this.closed) this.socket.write(buf);
  }

  close(): void {
    if (this.closed) return;
    try {
      this.socket.write(fe.terminate());
    } catch {
      // ignore
    }
    this.socket.end();
    this.socket.destroy();
    this.closed = true;
  }
}

/** Sends a CancelRequest for an upstream backend on a fresh connection. */
export function sendUpstreamCancel(target: UpstreamTarget, pid: number, secret: number): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect({ host: target.host, port: target.port }, () => {
      s.end(fe.cancel(pid, secret));
    });
    s.on('error', () => resolve());
    s.on('close', () => resolve());
  });
}

function md5Password(user: string, password: string, salt: Buffer): string {
  const inner = createHash('md5').update(password + user).digest('hex');
  return 'md5' + createHash('md5').update(Buffer.concat([Buffer.from(inner), salt])).digest('hex');
}

/** RFC 5802 / 7677 SCRAM-SHA-256 client (no channel binding). */
class ScramClient {
  private nonce = randomBytes(18).toString('base64');
  private firstBare = `n=*,r=${this.nonce}`;
  private serverSignature = '';
  constructor(private readonly password: string) {}

  first(): Buffer {
    return Buffer.from(`n,,${this.firstBare}`);
  }

  final(serverFirst: string): Buffer {
    const attrs = parseAttrs(serverFirst);
    const r = attrs.get('r') ?? '';
    const salt = Buffer.from(attrs.get('s') ?? '', 'base64');
    const iterations = Number(attrs.get('i'));
    if (!r.startsWith(this.nonce) || !iterations) throw new Error('SCRAM: bad server-first-message');
    const salted = pbkdf2Sync(this.password.normalize('NFKC'), salt, iterations, 32, 'sha256');
    const clientKey = hmac(salted, 'Client Key');
    const storedKey = createHash('sha256').update(clientKey).digest();
    const withoutProof = `c=biws,r=${r}`;
    const authMessage = `${this.firstBare},${serverFirst},${withoutProof}`;
    const clientSig = hmac(storedKey, authMessage);
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ clientSig[i]!;
    this.serverSignature = hmac(hmac(salted, 'Server Key'), authMessage).toString('base64');
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`);
  }

  verify(serverFinal: string): void {
    if (parseAttrs(serverFinal).get('v') !== this.serverSignature) throw new Error('SCRAM: server signature mismatch');
  }
}

function hmac(key: Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

function parseAttrs(s: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of s.split(',')) {
    const i = part.indexOf('=');
    if (i > 0) m.set(part.slice(0, i), part.slice(i + 1));
  }
  return m;
}
