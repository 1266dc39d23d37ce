/**
 * Generated hostile input for the pieces that parse what an attacker sends: the cookie
 * reader and its signature check, URL session-id detection, cookie-tossing detection, and the
 * config validator. Each property would fail on the flaw it names.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import cookieSignature from 'cookie-signature';
import express from 'express';
import { readSessionCookie } from '../../src/cookie/index.js';
import { rejectCookieTossing, rejectUrlSessionIds, sessionGuard, DEFAULT_URL_SESSION_ID_NAMES } from '../../src/index.js';
import { request, SECRET } from '../helpers.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
const id = fc.stringMatching(/^[A-Za-z0-9_-]{32}$/);
const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 });
const otherCookie = fc
  .tuple(fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/), printable)
  .filter(([name]) => name !== 'sid')
  .map(([name, value]) => `${name}=${value.replace(/[;,]/g, '')}`);

describe('hostile input: the cookie reader and its signature check', () => {
  it('property: never throws, whatever the Cookie header', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), fc.constantFrom('sid', '__Host-sid'), (header, name) => {
        const reading = readSessionCookie(header, name, [SECRET]);
        return reading.status !== 'valid' || typeof reading.id === 'string';
      }),
      { numRuns: RUNS },
    );
  });

  it('property: a signed cookie among others reads back as its id; every single-character change to it is refused', () => {
    fc.assert(
      fc.property(id, fc.array(otherCookie, { maxLength: 3 }), fc.array(otherCookie, { maxLength: 3 }), fc.nat(), fc.integer({ min: 0x21, max: 0x7e }), (sid, before, after, at, code) => {
        const value = `s:${cookieSignature.sign(sid, SECRET)}`;
        const header = (v: string) => [...before, `sid=${v}`, ...after].join('; ');
        const good = readSessionCookie(header(value), 'sid', [SECRET]);
        assert.deepEqual([good.status, good.id, good.count], ['valid', sid, 1]);
        const i = at % value.length;
        const replacement = String.fromCharCode(code);
        fc.pre(replacement !== value[i] && replacement !== ';' && replacement !== ',');
        const mutated = value.slice(0, i) + replacement + value.slice(i + 1);
        const reading = readSessionCookie(header(mutated), 'sid', [SECRET]);
        return reading.status !== 'valid';
      }),
      { numRuns: RUNS },
    );
  });

  it('property: a cookie signed under another secret is never valid, and a second copy of the name is always counted', () => {
    fc.assert(
      fc.property(id, id, fc.array(otherCookie, { maxLength: 3 }), (a, b, others) => {
        const foreign = `s:${cookieSignature.sign(a, 'a-guessed-secret-that-is-not-ours-0123')}`;
        assert.equal(readSessionCookie([...others, `sid=${foreign}`].join('; '), 'sid', [SECRET]).status, 'tampered');
        const tossed = readSessionCookie([`sid=s:${cookieSignature.sign(a, SECRET)}`, ...others, `sid=s:${cookieSignature.sign(b, SECRET)}`].join('; '), 'sid', [SECRET]);
        return tossed.count === 2;
      }),
      { numRuns: RUNS },
    );
  });
});

/** A name, written the many ways a query parser still reads as that name. */
function disguised(name: string) {
  return fc
    .tuple(
      fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }),
      fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }),
      fc.constantFrom('', '[]', '[0]', '[x]', '%5B%5D'),
      fc.boolean(),
    )
    .map(([upper, escape, suffix, bracketed]) => {
      let out = '';
      for (let i = 0; i < name.length; i++) {
        const c = upper[i] ? (name[i] as string).toUpperCase() : (name[i] as string);
        out += escape[i] ? `%${c.charCodeAt(0).toString(16).padStart(2, '0')}` : c;
      }
      return bracketed ? `[${out}]` : out + suffix;
    });
}

describe('hostile input: session ids in URLs', () => {
  const app = express();
  app.use(rejectUrlSessionIds({ cookieName: '__Host-sid' }));
  app.use((_req, res) => res.status(204).end());

  it('property: a session-id parameter is refused however it is disguised and wherever it sits', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...DEFAULT_URL_SESSION_ID_NAMES, '__Host-sid').chain((name) => disguised(name)),
        fc.array(fc.stringMatching(/^[a-z]{1,6}=[a-z0-9]{0,6}$/), { maxLength: 3 }),
        fc.constantFrom('query', 'matrix'),
        async (param, others, where) => {
          const url = where === 'query' ? `/page?${[...others, `${param}=planted`].join('&')}` : `/page;${param}=planted${others.length ? `?${others.join('&')}` : ''}`;
          const res = await request(app).get(url);
          assert.equal(res.status, 400, `${url} was not refused`);
        },
      ),
      { numRuns: Math.min(RUNS, 150) },
    );
  });

  it('property: ordinary parameters pass untouched, and no URL makes the check throw', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.stringMatching(/^[a-z]{1,8}=[a-z0-9%._~-]{0,8}$/).filter((p) => !/^(sid|sessionid|session_id|jsessionid|phpsessid|aspsessionid|__host-sid)=/.test(p)), { maxLength: 4 }), async (pairs) => {
        const res = await request(app).get(`/page${pairs.length ? `?${pairs.join('&')}` : ''}`);
        assert.equal(res.status, 204, `${pairs.join('&')} answered ${res.status}`);
      }),
      { numRuns: Math.min(RUNS, 150) },
    );
  });
});

describe('hostile input: cookie tossing', () => {
  const app = express();
  app.use(rejectCookieTossing({ cookieName: 'sid' }));
  app.use((_req, res) => res.status(204).end());

  it('property: the name twice anywhere in the header is refused; once is let through', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(otherCookie, { maxLength: 4 }), fc.nat(), fc.nat(), printable, printable, async (others, i, j, a, b) => {
        const clean = (v: string) => v.replace(/[;,\s]/g, '');
        const once = [...others];
        once.splice(i % (once.length + 1), 0, `sid=${clean(a)}`);
        const twice = [...once];
        twice.splice(j % (twice.length + 1), 0, ` sid =${clean(b)}`);
        assert.equal((await request(app).get('/').set('Cookie', once.join('; '))).status, 204);
        const refused = await request(app).get('/').set('Cookie', twice.join('; '));
        assert.equal(refused.status, 400, twice.join('; '));
      }),
      { numRuns: Math.min(RUNS, 150) },
    );
  });
});

describe('hostile input: the config validator', () => {
  const value = fc.oneof(fc.anything({ maxDepth: 2 }), fc.constant(undefined), fc.constant(null), fc.func(fc.anything()), fc.constant(() => undefined));
  const key = fc.constantFrom(
    'secret', 'store', 'index', 'strategy', 'keep', 'drop', 'cookie', 'trustProxy', 'idleTimeout', 'absoluteTimeout', 'rotateEvery', 'rotationGrace',
    'maxSessionsPerUser', 'onSessionLimit', 'credentialVersion', 'authKeys', 'audit', 'clock', 'tombstoneTtl', 'storeTimeout', 'urlSessionIds',
    'cookieTossing', 'requestMethods', 'errorResponse', 'env', 'plainHttpDevelopment', 'dangerouslyAllowSessionFixation', 'ttl', 'nonsense',
  );

  it('property: any options object either builds a guard or throws an Error that names the guard and the option — never a crash from inside', () => {
    fc.assert(
      fc.property(fc.dictionary(key, value, { maxKeys: 5 }), fc.boolean(), (options, withSecret) => {
        const input = withSecret ? { secret: SECRET, ...options } : options;
        try {
          sessionGuard(input as unknown as Parameters<typeof sessionGuard>[0]);
          return true;
        } catch (err) {
          assert.ok(err instanceof Error, `threw a non-Error: ${String(err)}`);
          assert.match(err.message, /^sessionGuard: /, `an unclear error: ${err.name}: ${err.message}`);
          assert.ok(!/Cannot read|is not a function|undefined \(reading/.test(err.message), err.message);
          return true;
        }
      }),
      { numRuns: RUNS },
    );
  });
});
