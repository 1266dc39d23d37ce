import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSetCookie, type SetCookie } from '../../src/attack-suite/cookies.js';
import { detectCsrf, readCsrfToken } from '../../src/attack-suite/csrf.js';
import type { ReceivedResponse } from '../../src/attack-suite/http.js';

function page(body: string, headers: Array<[string, string]> = []): ReceivedResponse {
  const setCookies = headers.filter(([n]) => n === 'set-cookie').map(([, v]) => parseSetCookie(v)).filter((c): c is SetCookie => c !== undefined);
  return { status: 200, headers: Object.fromEntries(headers), rawHeaders: headers, setCookies, body };
}

describe('attack suite: CSRF tokens on a login page', () => {
  it('finds a hidden input whatever the attribute order and quoting, and decodes its entities', () => {
    const res = page(`<form><input value='a&amp;b&#x2F;c' type=hidden name="_csrf"><input name="username"></form>`);
    assert.deepEqual(detectCsrf(res, '/login', 'sid'), { from: { kind: 'input', name: '_csrf' }, to: { kind: 'field', name: '_csrf' }, page: '/login' });
    assert.equal(readCsrfToken(res, { kind: 'input', name: '_csrf' }), 'a&b/c');
  });

  it('sends a meta tag token (Rails, Laravel) in X-CSRF-Token', () => {
    const res = page('<head><meta name="csrf-token" content="tok-1"></head>');
    assert.deepEqual(detectCsrf(res, '/', 'sid')?.to, { kind: 'header', name: 'X-CSRF-Token' });
    assert.equal(readCsrfToken(res, { kind: 'meta', name: 'csrf-token' }), 'tok-1');
  });

  it('echoes an XSRF-TOKEN cookie in X-XSRF-TOKEN (Angular) and never takes the session cookie for a token', () => {
    const res = page('{}', [
      ['set-cookie', 'csrf.sid=s%3Aabc.def; Path=/; HttpOnly'],
      ['set-cookie', 'XSRF-TOKEN=a%7Cb; Path=/'],
    ]);
    assert.deepEqual(detectCsrf(res, '/', 'csrf.sid'), { from: { kind: 'cookie', name: 'XSRF-TOKEN' }, to: { kind: 'header', name: 'X-XSRF-TOKEN' }, page: '/' });
    assert.equal(readCsrfToken(res, { kind: 'cookie', name: 'XSRF-TOKEN' }), 'a|b');
  });

  it('reads a token sent in a response header back into the same header, and finds nothing on a page without one', () => {
    const res = page('ok', [['x-csrf-token', 'h-1']]);
    assert.deepEqual(detectCsrf(res, '/', 'sid')?.to, { kind: 'header', name: 'x-csrf-token' });
    assert.equal(detectCsrf(page('<input type="hidden" name="next" value="/">'), '/', 'sid'), undefined);
  });
});
