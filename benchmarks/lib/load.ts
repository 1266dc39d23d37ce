/** autocannon, programmatic, loopback only. */
import autocannon from 'autocannon';

export interface LoadSpec {
  /** The server's base URL; must be http://127.0.0.1:<port>. */
  url: string;
  method?: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Seconds (time-bounded run) … */
  duration?: number;
  /** … or a number of requests (count-bounded run). */
  amount?: number;
  connections?: number;
  /** Called for each request: may change its headers and body (e.g. a different cookie each time). */
  perRequest?: () => { headers?: Record<string, string>; body?: string };
  /** Receives every response's headers. */
  onResponse?: (status: number, headers: Record<string, unknown>) => void;
}

export interface LoadResult {
  requests: number;
  durationS: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
}

export const DEFAULT_CONNECTIONS = 10;

function assertLoopback(url: string): void {
  const { hostname } = new URL(url);
  if (hostname !== '127.0.0.1') throw new Error(`benchmarks only send traffic to 127.0.0.1; got ${url}`);
}

export async function load(spec: LoadSpec): Promise<LoadResult> {
  assertLoopback(spec.url);
  const request: autocannon.Request = {
    method: spec.method ?? 'GET',
    path: spec.path,
    ...(spec.headers ? { headers: spec.headers } : {}),
    ...(spec.body !== undefined ? { body: spec.body } : {}),
  };
  if (spec.perRequest) {
    const next = spec.perRequest;
    request.setupRequest = (req) => {
      const change = next();
      if (change.headers) req.headers = { ...(req.headers ?? {}), ...change.headers };
      if (change.body !== undefined) req.body = change.body;
      return req;
    };
  }
  if (spec.onResponse) {
    const on = spec.onResponse;
    request.onResponse = (status, _body, _context, headers) => on(status, headers as Record<string, unknown>);
  }
  const started = process.hrtime.bigint();
  const result = await autocannon({
    url: spec.url,
    connections: spec.connections ?? DEFAULT_CONNECTIONS,
    pipelining: 1,
    // autocannon notices the end of a run at its next sample tick (every second by default): a
    // count-bounded run that ends between ticks would be timed up to a second long.
    ...(spec.amount !== undefined ? { amount: spec.amount, sampleInt: 10 } : { duration: spec.duration ?? 1 }),
    requests: [request],
  });
  // autocannon's own `duration` is coarse (whole ticks): time the run here.
  const durationS = Number(process.hrtime.bigint() - started) / 1e9;
  const total = result.requests.total;
  return {
    requests: total,
    durationS,
    rps: durationS > 0 ? total / durationS : 0,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

/** The `name=value` pair of the first Set-Cookie header, or undefined. */
export function cookieFrom(headers: Record<string, unknown> | Headers): string | undefined {
  let raw: unknown;
  if (headers instanceof Headers) raw = headers.getSetCookie()[0];
  else raw = headers['set-cookie'] ?? headers['Set-Cookie'];
  const first = Array.isArray(raw) ? (raw[0] as unknown) : raw;
  if (typeof first !== 'string') return undefined;
  const pair = first.split(';')[0]?.trim();
  return pair && !pair.endsWith('=') ? pair : undefined;
}
