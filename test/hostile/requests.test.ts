/**
 * Whole hostile HTTP requests against the example app, generated: whatever the method, path,
 * query, headers, cookies and body, the app never answers a 5xx other than a documented 503,
 * never crashes, and no request that is not a login with good credentials leaves a cookie
 * that `/me` accepts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import cookieSignature from 'cookie-signature';
import { createLoginApp } from '../../examples/shared/login-app.js';
import { request } from '../helpers.js';

const SECRET = 'hostile-requests-secret-0123456789abcdef';
process.env.SESSION_SECRET ??= SECRET;

const PATHS = ['/', '/login', '/me', '/logout', '/logout-all', '/elevate', '/sessions', '/nope', '/me/../login', '/%2e%2e/me', '/;jsessionid=x'];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'] as const;

const token = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/);
const anyText = fc.string({ unit: 'binary', maxLength: 40 });
/** Printable header values (Node refuses control characters before the app sees them). */
const headerValue = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 60 });

function cookieValue(name: string) {
  return fc.oneof(
    headerValue.map((v) => v.replace(/[;,]/g, '')),
    fc.stringMatching(/^[A-Za-z0-9_-]{32}$/).map((id) => `s:${cookieSignature.sign(id, 'a-guessed-secret-that-is-not-ours')}`),
    fc.stringMatching(/^[A-Za-z0-9_-]{32}$/).map((id) => `s:${cookieSignature.sign(id, SECRET)}`), // a forged id under the real secret
    fc.stringMatching(/^[A-Za-z0-9_-]{32}$/),
    fc.constant('%ZZ'),
    fc.constant('"s:unterminated'),
  ).map((value) => `${name}=${encodeURIComponent(value).replace(/%3A/g, ':')}`);
}

const cookieHeader = fc.array(fc.oneof(cookieValue('sid'), cookieValue('__Host-sid'), fc.tuple(token, headerValue).map(([n, v]) => `${n}=${v.replace(/[;,]/g, '')}`)), { maxLength: 5 }).map((pairs) => pairs.join('; '));

const query = fc
  .array(fc.tuple(fc.oneof(fc.constantFrom('sid', 'SID', 'jsessionid', '[sid]', 'sid[]', 'a[b][c]', '__proto__', 'constructor'), token), anyText), { maxLength: 4 })
  .map((pairs) => (pairs.length ? `?${pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')}` : ''));

const jsonBody = fc.oneof(
  fc.json({ maxDepth: 3 }),
  fc.record({ username: fc.oneof(anyText, fc.constantFrom('alice', 'bob', '__proto__', 'constructor')), password: fc.oneof(anyText, fc.integer(), fc.constant(null)) }).map((b) => JSON.stringify(b)),
  fc.constant('{"username":"alice","password":'),
  fc.constant('x'.repeat(20_000)),
);

const hostileRequest = fc.record({
  method: fc.constantFrom(...METHODS),
  path: fc.constantFrom(...PATHS),
  query,
  cookie: fc.option(cookieHeader, { nil: undefined }),
  contentType: fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'text/plain', 'application/json; charset=utf-16', ''),
  body: fc.option(jsonBody, { nil: undefined }),
  extra: fc.array(fc.tuple(fc.constantFrom('X-Forwarded-Proto', 'X-Forwarded-For', 'Origin', 'Referer', 'Sec-Fetch-Site', 'Host', 'Content-Encoding'), headerValue), { maxLength: 3 }),
});

/** The cookies a response set, as a Cookie header. */
function cookiesOf(res: { headers: Record<string, unknown> }): string[] {
  const lines = (res.headers['set-cookie'] as string[] | undefined) ?? [];
  return lines.map((line) => line.split(';')[0] as string).filter((pair) => !pair.endsWith('='));
}

const isGoodLogin = (r: { method: string; path: string; body: string | undefined }) => {
  if (r.method !== 'POST' || !r.path.endsWith('/login') || r.body === undefined) return false;
  try {
    const b = JSON.parse(r.body) as { username?: unknown; password?: unknown };
    return (b.username === 'alice' && b.password === 'alice-password') || (b.username === 'bob' && b.password === 'bob-password');
  } catch {
    return false;
  }
};

describe('hostile whole requests against the example app', () => {
  it('property: never a 5xx other than 503, and no authenticated session without a good login', async () => {
    const { app } = createLoginApp();
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(hostileRequest, async (r) => {
        let test = request(app)[r.method.toLowerCase() as 'get'](r.path + r.query);
        if (r.cookie !== undefined) test = test.set('Cookie', r.cookie);
        for (const [name, value] of r.extra) test = test.set(name, value);
        if (r.body !== undefined && r.method !== 'GET' && r.method !== 'HEAD') {
          if (r.contentType) test = test.set('Content-Type', r.contentType);
          test = test.send(r.body);
        }
        const res = await test;
        const text = res.text ?? '';
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        assert.ok(res.status < 500 || res.status === 503, `${r.method} ${r.path}${r.query} answered ${res.status}: ${text.slice(0, 200)}`);
        assert.ok(!/Error:|at [\w.]+ \(|node_modules/.test(text), 'no stack or internals in the body');
        if (isGoodLogin(r)) return;
        const cookies = [...cookiesOf(res), ...(r.cookie ? [r.cookie] : [])];
        for (const cookie of cookies) {
          const check = await request(app).get('/me').set('Cookie', cookie);
          // 401, or 400 for a cookie the guard refuses outright (tossing): never a 200.
          assert.ok(check.status === 401 || check.status === 400, `a cookie left by ${r.method} ${r.path} answered /me with ${check.status}`);
        }
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 150) },
    );
    // The generator reached the app, not only its front door: logins, refusals and successes.
    assert.ok([...statuses.keys()].some((s) => s >= 200 && s < 300), JSON.stringify([...statuses]));
    assert.ok([...statuses.keys()].some((s) => s === 400 || s === 401), JSON.stringify([...statuses]));
  });
});
