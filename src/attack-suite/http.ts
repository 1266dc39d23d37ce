import http, { type IncomingHttpHeaders, type RequestListener } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { parseSetCookie, type SetCookie } from './cookies.js';

/**
 * What the suite attacks: an Express (or any Node) request listener, driven in-process on an
 * ephemeral 127.0.0.1 port for the duration of the run, or the base URL of a running server.
 */
export type AttackTarget = RequestListener | string | URL;

/** One request the suite sends. Headers are sent exactly as given (no cookie jar). */
export interface OutgoingRequest {
  method: string;
  /** Path (and query) relative to the target's base URL, sent byte for byte. */
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Sent as a page of another site sends it: without the configured extra headers (it cannot add them). */
  crossSite?: boolean;
}

export interface ReceivedResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Every header as sent, in order, names lower-cased (Set-Cookie lines one by one). */
  rawHeaders: Array<[string, string]>;
  setCookies: SetCookie[];
  body: string;
}

/** A request whose body is withheld until `release()`, to keep it in flight on the server. */
export interface HeldRequest {
  /**
   * Settles once the server has taken the request in: `continue` when it answered
   * `100 Continue` (Node dispatches the request to the app in the same tick), `response` when
   * it answered before reading the body (the request cannot be held), `timeout` otherwise.
   */
  readonly accepted: Promise<'continue' | 'response' | 'timeout'>;
  /** Sends the body and resolves with the response. */
  release(): Promise<ReceivedResponse>;
}

/** The target could not be reached at all (refused, DNS, TLS), or a request got no answer in time. */
export class TargetUnreachableError extends Error {
  override readonly name: string = 'TargetUnreachableError';
}

/**
 * One request got no answer within the per-request timeout. The route hangs, not the whole
 * target: the suite aborts the attacks that need that route and runs the others.
 */
export class RequestTimeoutError extends TargetUnreachableError {
  override readonly name: string = 'RequestTimeoutError';
  /** `METHOD /path` (without the query). */
  readonly route: string;
  constructor(message: string, route: string) {
    super(message);
    this.route = route;
  }
}

/** `METHOD /path`, the query left out: how the suite names a route that hangs. */
export function routeKey(method: string, path: string): string {
  return `${method.toUpperCase()} ${path.split(/[?;#]/)[0]}`;
}

const HOLD_ACCEPT_TIMEOUT_MS = 2_000;

/** A minimal HTTP/1.1 client for one base URL. `Connection: close`, so nothing lingers. */
export class AttackHttpClient {
  readonly baseUrl: URL;
  readonly #timeoutMs: number;
  readonly #extraHeaders: Record<string, string>;
  readonly #close: () => Promise<void>;

  private constructor(baseUrl: URL, timeoutMs: number, extraHeaders: Record<string, string>, close: () => Promise<void>) {
    this.baseUrl = baseUrl;
    this.#timeoutMs = timeoutMs;
    this.#extraHeaders = extraHeaders;
    this.#close = close;
  }

  /** Opens a client on a target: listens an in-process app on 127.0.0.1:0, or parses a URL. */
  static async open(
    target: AttackTarget,
    options: { timeoutMs: number; headers?: Record<string, string> },
  ): Promise<AttackHttpClient> {
    const headers = options.headers ?? {};
    if (typeof target === 'function') {
      const server = http.createServer(target);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
      // A test runner must be able to exit even if nobody calls close().
      server.unref();
      const { port } = server.address() as AddressInfo;
      const close = () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        });
      return new AttackHttpClient(new URL(`http://127.0.0.1:${port}/`), options.timeoutMs, headers, close);
    }
    const url = new URL(String(target));
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TypeError(`runFixationAttacks: the target URL must be http: or https:; got ${JSON.stringify(String(target))}`);
    }
    if (!url.pathname.endsWith('/')) url.pathname += '/';
    return new AttackHttpClient(url, options.timeoutMs, headers, async () => {});
  }

  /** Whether requests travel over TLS (an in-process app is always plain HTTP). */
  get isHttps(): boolean {
    return this.baseUrl.protocol === 'https:';
  }

  async close(): Promise<void> {
    await this.#close();
  }

  /** Sends a request and buffers the whole response. */
  send(request: OutgoingRequest): Promise<ReceivedResponse> {
    return new Promise((resolve, reject) => {
      const req = this.#request(request, reject);
      req.on('response', (res) => collect(res).then(resolve, reject));
      req.end(request.body);
    });
  }

  /**
   * Sends the headers of a request that carries a body but withholds the body, so that the
   * server loads the session and then waits. `Expect: 100-continue` tells us when it has
   * taken the request in, so no sleep is needed.
   */
  hold(request: OutgoingRequest & { body: string }): HeldRequest {
    let settle!: (how: 'continue' | 'response' | 'timeout') => void;
    const accepted = new Promise<'continue' | 'response' | 'timeout'>((resolve) => (settle = resolve));
    let req!: http.ClientRequest;
    const response = new Promise<ReceivedResponse>((resolve, reject) => {
      const timer = setTimeout(() => settle('timeout'), HOLD_ACCEPT_TIMEOUT_MS);
      timer.unref();
      const headers = { ...request.headers, expect: '100-continue', 'content-length': String(Buffer.byteLength(request.body)) };
      req = this.#request({ ...request, headers }, (err) => {
        clearTimeout(timer);
        settle('response');
        reject(err);
      });
      req.on('continue', () => {
        clearTimeout(timer);
        settle('continue');
      });
      req.on('response', (res) => {
        clearTimeout(timer);
        settle('response');
        collect(res).then(resolve, reject);
      });
      req.flushHeaders();
    });
    // Observed through release(); never an unhandled rejection while the request is held.
    response.catch(() => {});
    return {
      accepted,
      release: () => {
        if (!req.writableEnded) req.end(request.body);
        return response;
      },
    };
  }

  #request(request: OutgoingRequest, onError: (err: Error) => void): http.ClientRequest {
    const url = new URL(request.path.replace(/^\//, ''), this.baseUrl);
    // new URL() would normalise `;jsessionid=` and percent-encoding; send the path verbatim.
    const path = this.baseUrl.pathname.replace(/\/$/, '') + (request.path.startsWith('/') ? request.path : `/${request.path}`);
    const transport = url.protocol === 'https:' ? https : http;
    const req = transport.request({
      host: url.hostname,
      port: url.port || (url.protocol === 'https:' ? 443 : 80),
      method: request.method,
      path,
      agent: false,
      headers: { connection: 'close', ...(request.crossSite === true ? {} : this.#extraHeaders), ...request.headers },
      timeout: this.#timeoutMs,
    });
    req.on('timeout', () => {
      const route = routeKey(request.method, request.path);
      req.destroy(new RequestTimeoutError(`${route} got no answer within ${this.#timeoutMs} ms`, route));
    });
    req.on('error', (err) => {
      const code = (err as NodeJS.ErrnoException).code;
      if (err instanceof TargetUnreachableError) onError(err);
      else if (code && /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ECONNRESET|ETIMEDOUT|CERT_|ERR_TLS|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO)/.test(code)) {
        onError(new TargetUnreachableError(`cannot reach ${this.baseUrl.origin}: ${code} (${err.message})`, { cause: err }));
      } else onError(err);
    });
    return req;
  }
}

function collect(res: http.IncomingMessage): Promise<ReceivedResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.on('error', reject);
    res.on('end', () => {
      const rawHeaders: Array<[string, string]> = [];
      for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
        rawHeaders.push([(res.rawHeaders[i] as string).toLowerCase(), res.rawHeaders[i + 1] as string]);
      }
      const setCookies = rawHeaders
        .filter(([name]) => name === 'set-cookie')
        .map(([, value]) => parseSetCookie(value))
        .filter((c): c is SetCookie => c !== undefined);
      resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders, setCookies, body: Buffer.concat(chunks).toString('utf8') });
    });
  });
}
