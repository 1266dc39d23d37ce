/**
 * One long-lived HTTP server per store (its handler swapped for each run's app) and a small
 * client over node:http: supertest would start a server per request, which dominates a
 * model run of hundreds of requests.
 */
import http, { type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';

export const COOKIE_NAME = '__Host-sid';
/** A request still unanswered after this long is a hang, reported as such. */
const REQUEST_TIMEOUT_MS = 20_000;

export interface Reply {
  status: number;
  body: any;
  /** `name=value` of a non-empty session cookie the response set. */
  setCookie: string | undefined;
  /** Whether the response cleared the session cookie. */
  cleared: boolean;
}

export class TestServer {
  readonly #server: http.Server;
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  #handler: RequestListener | undefined;
  #port = 0;

  constructor() {
    this.#server = http.createServer((req, res) => {
      if (!this.#handler) {
        res.statusCode = 500;
        res.end('no app');
        return;
      }
      this.#handler(req, res);
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.#port = (this.#server.address() as AddressInfo).port;
  }

  use(handler: RequestListener): void {
    this.#handler = handler;
  }

  async stop(): Promise<void> {
    this.#agent.destroy();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** A request as the TLS proxy forwards it (X-Forwarded-Proto: https), with `cookie` if given. */
  request(method: string, path: string, cookie?: string, body?: unknown): Promise<Reply> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { 'X-Forwarded-Proto': 'https' };
    if (cookie) headers.Cookie = cookie;
    if (payload !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    return new Promise<Reply>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: this.#port, method, path, headers, agent: this.#agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = text ? JSON.parse(text) : null;
            } catch {
              // not JSON: keep the text
            }
            resolve({
              status: res.statusCode ?? 0,
              body: parsed,
              ...readSetCookie(res.headers['set-cookie']),
            });
          });
        },
      );
      req.on('error', reject);
      req.setTimeout(REQUEST_TIMEOUT_MS, () =>
        req.destroy(new Error(`${method} ${path} did not answer within ${REQUEST_TIMEOUT_MS} ms`)),
      );
      req.end(payload);
    });
  }
}

function readSetCookie(lines: string[] | undefined): {
  setCookie: string | undefined;
  cleared: boolean;
} {
  let setCookie: string | undefined;
  let cleared = false;
  for (const line of lines ?? []) {
    const pair = line.split(';')[0] as string;
    const eq = pair.indexOf('=');
    if (pair.slice(0, eq) !== COOKIE_NAME) continue;
    const expired = /expires=Thu, 01 Jan 1970/i.test(line) || /max-age=0\b/i.test(line);
    if (pair.slice(eq + 1) === '' || expired) {
      cleared = true;
      setCookie = undefined;
    } else {
      setCookie = pair;
      cleared = false;
    }
  }
  return { setCookie, cleared };
}

/** The raw session id inside a signed cookie pair. */
export function idOf(cookiePair: string): string {
  const value = decodeURIComponent(cookiePair.slice(cookiePair.indexOf('=') + 1));
  return value.slice(2, value.lastIndexOf('.'));
}
