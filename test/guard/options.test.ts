import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import express from 'express';
import session from 'express-session';
import { memorySink, MemorySessionIndex, sessionGuard, type SessionGuardOptions } from '../../src/index.js';
import { buildApp, https, request, SECRET, setCookieLine } from '../helpers.js';

const HINT = `Generate one with: node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))"`;

/** A store that is not the MemoryStore (as connect-redis would be): the index must then be given. */
class SharedStore extends session.Store {
  get(_sid: string, cb: (err: unknown, s?: session.SessionData | null) => void): void {
    cb(null, null);
  }
  set(_sid: string, _s: session.SessionData, cb?: (err?: unknown) => void): void {
    cb?.();
  }
  destroy(_sid: string, cb?: (err?: unknown) => void): void {
    cb?.();
  }
}

type Case = [description: string, options: unknown, errorClass: ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor, message: string];

function throwsExactly(fn: () => unknown, errorClass: Case[2], message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof Error, 'throws an Error');
    assert.equal(err.constructor, errorClass, `${err.constructor.name} instead of ${errorClass.name}: ${err.message}`);
    assert.equal(err.message, message);
    return true;
  });
}

const base = { secret: SECRET };
const production = { ...base, env: 'production', store: new SharedStore(), index: new MemorySessionIndex() };

const CASES: Case[] = [
  // The options object itself
  ['no options at all', undefined, TypeError, 'sessionGuard: options must be an object like { secret }; got undefined'],
  ['a bare secret string instead of an object', 'just-a-secret', TypeError, 'sessionGuard: options must be an object like { secret }; got "just-a-secret"'],
  ['an array instead of an object', [SECRET], TypeError, `sessionGuard: options must be an object like { secret }; got ["${SECRET}"]`],
  ['null', null, TypeError, 'sessionGuard: options must be an object like { secret }; got null'],
  ['a request object (app.use(sessionGuard) without calling it)', { method: 'GET', url: '/', headers: {} }, TypeError,
    'sessionGuard: was used as a middleware without being called. Write app.use(sessionGuard({ secret })), not app.use(sessionGuard).'],
  ['an unknown option close to a known one', { ...base, idleTimout: '30m' }, Error, 'sessionGuard: unknown option `idleTimout`; did you mean `idleTimeout`?'],
  ['a plural of a known option', { ...base, secrets: [SECRET] }, Error, 'sessionGuard: unknown option `secrets`; did you mean `secret`?'],
  ["express-session's `name` option", { ...base, name: 'sid' }, Error, 'sessionGuard: unknown option `name`; did you mean `cookie.name`?'],
  ["express-session's `proxy` option", { ...base, proxy: true }, Error, 'sessionGuard: unknown option `proxy`; did you mean `trustProxy`?'],
  ["express-session's `resave` option", { ...base, resave: false }, Error, 'sessionGuard: unknown option `resave`: sessionGuard configures express-session itself; remove it.'],
  ["express-session's `saveUninitialized` option", { ...base, saveUninitialized: false }, Error,
    'sessionGuard: unknown option `saveUninitialized`: sessionGuard configures express-session itself; remove it.'],
  ['a short unknown option, without a far-fetched suggestion', { ...base, nam: 'sid' }, Error, 'sessionGuard: unknown option `nam`.'],
  ['an unknown option like nothing known', { ...base, zzzzzzzzzzzz: true }, Error, 'sessionGuard: unknown option `zzzzzzzzzzzz`.'],
  // secret
  ['a missing secret', {}, TypeError, `sessionGuard: \`secret\` is required: it signs the session cookie. ${HINT}`],
  ['an empty secret', { secret: '' }, TypeError, `sessionGuard: \`secret\` is required: it signs the session cookie. ${HINT}`],
  ['a short secret', { secret: 'short' }, Error, `sessionGuard: \`secret\` must be at least 32 bytes; got 5 bytes. ${HINT}`],
  ['a secret one byte short', { secret: 'a'.repeat(31) }, Error, `sessionGuard: \`secret\` must be at least 32 bytes; got 31 bytes. ${HINT}`],
  ['a number as secret', { secret: 42 }, TypeError, 'sessionGuard: `secret` must be a string; got number'],
  ['an empty array of secrets', { secret: [] }, Error, `sessionGuard: \`secret\` is an empty array; give at least one secret. ${HINT}`],
  ['a short retired secret in the array', { secret: [SECRET, 'short'] }, Error, `sessionGuard: \`secret[1]\` must be at least 32 bytes; got 5 bytes. ${HINT}`],
  ['a short first secret in the array', { secret: ['tiny', SECRET] }, Error, `sessionGuard: \`secret[0]\` must be at least 32 bytes; got 4 bytes. ${HINT}`],
  ['a non-string in the array of secrets', { secret: [SECRET, 7] }, TypeError, 'sessionGuard: `secret[1]` must be a string; got number'],
  // clock and flags
  ['a clock without now()', { ...base, clock: {} }, TypeError, 'sessionGuard: `clock` must be an object with a now() method; got {}'],
  ['plainHttpDevelopment as a string', { ...base, plainHttpDevelopment: 'yes' }, TypeError, 'sessionGuard: `plainHttpDevelopment` must be \'loopback\', true or false; got "yes"'],
  ['dangerouslyAllowSessionFixation as a number', { ...base, dangerouslyAllowSessionFixation: 1 }, TypeError, 'sessionGuard: `dangerouslyAllowSessionFixation` must be a boolean; got 1'],
  ['trustProxy as a string', { ...base, trustProxy: 'true' }, TypeError, 'sessionGuard: `trustProxy` must be a boolean; got "true"'],
  ['requestMethods as null', { ...base, requestMethods: null }, TypeError, 'sessionGuard: `requestMethods` must be a boolean; got null'],
  // strategy
  ['an unknown strategy', { ...base, strategy: 'rotate' }, Error, "sessionGuard: `strategy` must be one of 'newSession', 'migrateSession', 'changeSessionId', 'none'; got \"rotate\""],
  ["strategy 'none' without the opt-in", { ...base, strategy: 'none' }, Error,
    "sessionGuard: `strategy` 'none' keeps the pre-login session id, which is session fixation. Use 'changeSessionId', or set `dangerouslyAllowSessionFixation: true` to demonstrate the attack."],
  ["strategy 'none' with the opt-in set to false", { ...base, strategy: 'none', dangerouslyAllowSessionFixation: false }, Error,
    "sessionGuard: `strategy` 'none' keeps the pre-login session id, which is session fixation. Use 'changeSessionId', or set `dangerouslyAllowSessionFixation: true` to demonstrate the attack."],
  ['keep with a strategy other than newSession', { ...base, keep: ['returnTo'] }, Error,
    "sessionGuard: `keep` only applies to strategy 'newSession' (got 'changeSessionId'); remove it or change the strategy."],
  ['drop with a strategy other than migrateSession', { ...base, strategy: 'newSession', drop: ['theme'] }, Error,
    "sessionGuard: `drop` only applies to strategy 'migrateSession' (got 'newSession'); remove it or change the strategy."],
  ['keep that is not an array', { ...base, strategy: 'newSession', keep: 'returnTo' }, TypeError, 'sessionGuard: `keep` must be an array of non-empty strings; got "returnTo"'],
  ['drop with an empty key', { ...base, strategy: 'migrateSession', drop: [''] }, TypeError, 'sessionGuard: `drop` must be an array of non-empty strings; got [""]'],
  ['authKeys as a string', { ...base, authKeys: 'user' }, TypeError, 'sessionGuard: `authKeys` must be an array of non-empty strings; got "user"'],
  // durations
  ['an idleTimeout that is not a duration', { ...base, idleTimeout: 'soon' }, Error,
    "sessionGuard: `idleTimeout` must be a duration like '30m', '4h', '15s' or a number of milliseconds; got \"soon\""],
  ['a zero idleTimeout', { ...base, idleTimeout: 0 }, RangeError, 'sessionGuard: `idleTimeout` must be a positive number of milliseconds; got 0'],
  ['an infinite idleTimeout', { ...base, idleTimeout: Infinity }, RangeError, 'sessionGuard: `idleTimeout` must be a positive number of milliseconds; got Infinity'],
  ['a boolean idleTimeout', { ...base, idleTimeout: true }, TypeError, "sessionGuard: `idleTimeout` must be a duration like '30m' or a number of milliseconds; got boolean"],
  ['an absoluteTimeout shorter than the idleTimeout', { ...base, absoluteTimeout: '10m' }, Error,
    'sessionGuard: `absoluteTimeout` (600000 ms) is shorter than `idleTimeout` (1800000 ms); make it at least as long.'],
  ['an absoluteTimeout shorter than a custom idleTimeout', { ...base, idleTimeout: '2h', absoluteTimeout: '1h' }, Error,
    'sessionGuard: `absoluteTimeout` (3600000 ms) is shorter than `idleTimeout` (7200000 ms); make it at least as long.'],
  ['a negative absoluteTimeout', { ...base, absoluteTimeout: -1 }, RangeError, 'sessionGuard: `absoluteTimeout` must be a positive number of milliseconds; got -1'],
  ['a rotateEvery that is not a duration', { ...base, rotateEvery: 'often' }, Error,
    "sessionGuard: `rotateEvery` must be a duration like '30m', '4h', '15s' or a number of milliseconds; got \"often\""],
  ['rotateEvery: true', { ...base, rotateEvery: true }, TypeError, "sessionGuard: `rotateEvery` must be a duration like '30m' or a number of milliseconds; got boolean"],
  ['a negative tombstoneTtl', { ...base, tombstoneTtl: -5 }, RangeError, 'sessionGuard: `tombstoneTtl` must be a positive number of milliseconds; got -5'],
  ['a storeTimeout in words', { ...base, storeTimeout: '5 minutes' }, Error,
    "sessionGuard: `storeTimeout` must be a duration like '30m', '4h', '15s' or a number of milliseconds; got \"5 minutes\""],
  // session limits
  ['maxSessionsPerUser as a string', { ...base, maxSessionsPerUser: '5' }, TypeError, 'sessionGuard: `maxSessionsPerUser` must be a positive integer or false; got "5"'],
  ['maxSessionsPerUser: true', { ...base, maxSessionsPerUser: true }, TypeError, 'sessionGuard: `maxSessionsPerUser` must be a positive integer or false; got true'],
  ['maxSessionsPerUser: 0', { ...base, maxSessionsPerUser: 0 }, Error, 'sessionGuard: `maxSessionsPerUser` must be a positive integer or false; got 0'],
  ['a fractional maxSessionsPerUser', { ...base, maxSessionsPerUser: 2.5 }, Error, 'sessionGuard: `maxSessionsPerUser` must be a positive integer or false; got 2.5'],
  ['a negative maxSessionsPerUser', { ...base, maxSessionsPerUser: -3 }, Error, 'sessionGuard: `maxSessionsPerUser` must be a positive integer or false; got -3'],
  ['an unknown onSessionLimit', { ...base, maxSessionsPerUser: 2, onSessionLimit: 'kick' }, Error, "sessionGuard: `onSessionLimit` must be 'evictOldest' or 'rejectLogin'; got \"kick\""],
  ['onSessionLimit without maxSessionsPerUser', { ...base, onSessionLimit: 'rejectLogin' }, Error,
    'sessionGuard: `onSessionLimit` has no effect without `maxSessionsPerUser`; set both or neither.'],
  ['onSessionLimit with maxSessionsPerUser: false', { ...base, maxSessionsPerUser: false, onSessionLimit: 'evictOldest' }, Error,
    'sessionGuard: `onSessionLimit` has no effect without `maxSessionsPerUser`; set both or neither.'],
  ['credentialVersion that is not a function', { ...base, credentialVersion: 'v1' }, TypeError, 'sessionGuard: `credentialVersion` must be a function (principal) => version; got "v1"'],
  // store and index
  ['a store without the Store methods', { ...base, store: {} }, TypeError, 'sessionGuard: `store` must be an express-session Store (with get, set, destroy and on); got {}'],
  ['a shared store without an index', { ...base, store: new SharedStore() }, Error,
    "sessionGuard: `index` is required with a shared `store`: a per-process index would miss other instances' sessions. Pass the store's index (e.g. createRedisSessionStores().index) or `new MemorySessionIndex()` for a single instance."],
  ['an index that is not a SessionIndex', { ...base, index: {} }, TypeError, 'sessionGuard: `index` must implement SessionIndex (missing admit()); got {}'],
  ['an index missing one method', { ...base, index: { admit() {}, remove() {}, rename() {}, touch() {} } }, TypeError,
    'sessionGuard: `index` must implement SessionIndex (missing list()); got {}'],
  ['rotationGrace without rotateEvery', { ...base, rotationGrace: '5s' }, Error,
    'sessionGuard: `rotationGrace` only applies to periodic rotation; set `rotateEvery` too, or remove it.'],
  ['rotationGrace not shorter than rotateEvery', { ...base, rotateEvery: '10s', rotationGrace: '10s' }, Error,
    'sessionGuard: `rotationGrace` (10000 ms) must be shorter than `rotateEvery` (10000 ms).'],
  // cookie
  ['cookie as a string', { ...base, cookie: '__Host-sid' }, TypeError, 'sessionGuard: `cookie` must be an object; got "__Host-sid"'],
  ['cookie as an array', { ...base, cookie: [] }, TypeError, 'sessionGuard: `cookie` must be an object; got []'],
  ['cookie.httpOnly: false', { ...base, cookie: { httpOnly: false } }, Error,
    'sessionGuard: `cookie.httpOnly` cannot be false: a session cookie readable by scripts can be stolen by any XSS. Remove the option.'],
  ['cookie.secure as a string', { ...base, cookie: { secure: 'yes' } }, TypeError, 'sessionGuard: `cookie.secure` must be a boolean; got "yes"'],
  ['cookie.secure: false without plainHttpDevelopment', { ...base, cookie: { secure: false, name: 'sid' } }, Error,
    'sessionGuard: `cookie.secure` is false; set it to true, or set `plainHttpDevelopment: true` to serve plain HTTP in development.'],
  ['an unknown cookie.sameSite', { ...base, cookie: { sameSite: 'loose' } }, Error, "sessionGuard: `cookie.sameSite` must be 'lax', 'strict' or 'none'; got \"loose\""],
  ['cookie.sameSite as true', { ...base, cookie: { sameSite: true } }, Error, "sessionGuard: `cookie.sameSite` must be 'lax', 'strict' or 'none'; got true"],
  ["cookie.sameSite 'none' without Secure", { ...base, plainHttpDevelopment: true, cookie: { sameSite: 'none' } }, Error,
    "sessionGuard: `cookie.sameSite` is 'none' but the cookie is not Secure; browsers drop such cookies. Use 'lax' or make the cookie Secure."],
  ['a relative cookie.path', { ...base, cookie: { name: 'sid', path: 'app' } }, Error, "sessionGuard: `cookie.path` must be a string starting with '/'; got \"app\""],
  ['an empty cookie.domain', { ...base, cookie: { name: 'sid', domain: '' } }, Error, 'sessionGuard: `cookie.domain` must be a non-empty string; got ""'],
  ['a Domain with the default __Host- name', { ...base, cookie: { domain: 'example.com' } }, Error,
    "sessionGuard: `cookie.domain` cannot be used with the __Host- cookie name '__Host-sid' (browsers reject it); remove `cookie.domain` or rename the cookie."],
  ['another Path with the default __Host- name', { ...base, cookie: { path: '/app' } }, Error,
    "sessionGuard: `cookie.path` must be '/' with the __Host- cookie name '__Host-sid'; got \"/app\""],
  ['a __Host- name on a plain-HTTP cookie', { ...base, plainHttpDevelopment: true, cookie: { name: '__Host-sid' } }, Error,
    "sessionGuard: `cookie.name` '__Host-sid' has the __Host- prefix, which requires a Secure cookie; set `cookie.secure` to true or pick another name."],
  ['a lower-case __host- name with a Domain', { ...base, cookie: { name: '__host-sid', domain: 'example.com' } }, Error,
    "sessionGuard: `cookie.domain` cannot be used with the __Host- cookie name '__host-sid' (browsers reject it); remove `cookie.domain` or rename the cookie."],
  ['a __Secure- name on a plain-HTTP cookie', { ...base, plainHttpDevelopment: true, cookie: { name: '__Secure-sid' } }, Error,
    "sessionGuard: `cookie.name` '__Secure-sid' has the __Secure- prefix, which requires a Secure cookie."],
  ["the fingerprinting default name 'connect.sid'", { ...base, cookie: { name: 'connect.sid' } }, Error,
    "sessionGuard: `cookie.name` 'connect.sid' announces express-session to every scanner; use '__Host-sid'."],
  ['a cookie name with a space', { ...base, cookie: { name: 'my sid' } }, Error,
    "sessionGuard: `cookie.name` must be a cookie token (letters, digits, !#$%&'*+-.^_`|~); got \"my sid\""],
  ['a cookie.maxAge that is not a duration', { ...base, cookie: { maxAge: 'forever' } }, Error,
    "sessionGuard: `cookie.maxAge` must be a duration like '30m', '4h', '15s' or a number of milliseconds; got \"forever\""],
  ['an unknown cookie.priority', { ...base, cookie: { priority: 'urgent' } }, Error, "sessionGuard: `cookie.priority` must be 'low', 'medium' or 'high'; got \"urgent\""],
  // the pieces and the outputs
  ['urlSessionIds as a string', { ...base, urlSessionIds: 'reject' }, TypeError, 'sessionGuard: `urlSessionIds` must be a boolean or an object; got "reject"'],
  ['cookieTossing as a number', { ...base, cookieTossing: 1 }, TypeError, 'sessionGuard: `cookieTossing` must be a boolean or an object; got 1'],
  ['an unknown urlSessionIds.action', { ...base, urlSessionIds: { action: 'drop' } }, Error, "rejectUrlSessionIds: `action` must be 'reject' or 'strip'; got \"drop\""],
  ['an unknown cookieTossing.action', { ...base, cookieTossing: { action: 'drop' } }, Error, "rejectCookieTossing: `action` must be 'reject' or 'ignore'; got \"drop\""],
  ['urlSessionIds: null', { ...base, urlSessionIds: null }, TypeError, 'sessionGuard: `urlSessionIds` must be a boolean or an object; got null'],
  ['an unknown errorResponse', { ...base, errorResponse: 'html' }, Error, "sessionGuard: `errorResponse` must be 'json' or 'next'; got \"html\""],
  ['audit as a file name', { ...base, audit: 'audit.jsonl' }, TypeError, 'sessionGuard: `audit` must be an Auditor, a sink function or an array of sinks; got "audit.jsonl"'],
  ['audit with a non-function sink', { ...base, audit: [() => undefined, 'x'] }, TypeError, 'sessionGuard: `audit` must be an Auditor, a sink function or an array of sinks; got [null,"x"]'],
  // production
  ['the MemoryStore by default in production', { ...base, env: 'production' }, Error,
    'sessionGuard: the MemoryStore is refused in production: it leaks memory and is not shared between instances. Pass `store` (e.g. fixation-guard/redis) and `index`.'],
  ['an explicit MemoryStore in production', { ...base, env: 'production', store: new session.MemoryStore() }, Error,
    'sessionGuard: the MemoryStore is refused in production: it leaks memory and is not shared between instances. Pass `store` (e.g. fixation-guard/redis) and `index`.'],
  ['plainHttpDevelopment in production', { ...production, plainHttpDevelopment: true }, Error,
    "sessionGuard: `plainHttpDevelopment` is true in production; serve HTTPS (behind a TLS proxy set app.set('trust proxy', 1)) and remove the option."],
  ["plainHttpDevelopment 'loopback' in production", { ...production, plainHttpDevelopment: 'loopback' }, Error,
    "sessionGuard: `plainHttpDevelopment` is \"loopback\" in production; serve HTTPS (behind a TLS proxy set app.set('trust proxy', 1)) and remove the option."],
  ["strategy 'none' in production, even with the opt-in", { ...production, strategy: 'none', dangerouslyAllowSessionFixation: true }, Error,
    "sessionGuard: `strategy` 'none' is refused in production."],
  ['a non-Secure cookie in production', { ...production, cookie: { secure: false, name: 'sid' } }, Error,
    'sessionGuard: `cookie.secure` is false; set it to true, or set `plainHttpDevelopment: true` to serve plain HTTP in development.'],
];

describe('sessionGuard options', () => {
  // First in the file: the process warning is given once per process.
  it('warns once per process, and audits insecure_configuration on every construction, for plainHttpDevelopment and strategy none', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const first = memorySink();
      sessionGuard({ ...base, plainHttpDevelopment: true, audit: first });
      const second = memorySink();
      sessionGuard({ ...base, strategy: 'none', dangerouslyAllowSessionFixation: true, audit: second });
      const third = memorySink();
      sessionGuard({ ...base, plainHttpDevelopment: true, strategy: 'none', dangerouslyAllowSessionFixation: true, audit: third });
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(first.of('insecure_configuration').map((e) => e.reason), [
        'plainHttpDevelopment: the session cookie is not Secure and has no __Host- prefix. Never use this in production.',
      ]);
      assert.deepEqual(second.of('insecure_configuration').map((e) => e.reason), [
        "strategy 'none': session ids are NOT rotated at login. This app is vulnerable to session fixation by design.",
      ]);
      assert.equal(third.of('insecure_configuration').length, 2);
      assert.ok(third.events.every((e) => e.severity === 'warn'));
      const ours = warnings.filter((w) => (w as Error & { code?: string }).code === 'FIXATION_GUARD_INSECURE');
      assert.equal(ours.length, 1, 'the process warning is given once');
      assert.match(ours[0]?.message ?? '', /plainHttpDevelopment/);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('a safe configuration audits no warning', () => {
    const audit = memorySink();
    sessionGuard({ ...base, audit });
    assert.equal(audit.events.length, 0);
  });

  for (const [description, options, errorClass, message] of CASES) {
    it(`refuses ${description} with ${errorClass === Error ? "an" : "a"} ${errorClass.name}`, () => {
      throwsExactly(() => sessionGuard(options as SessionGuardOptions), errorClass, message);
    });
  }

  it('every error message starts with the name of the middleware that refused it', () => {
    for (const [, , , message] of CASES) assert.match(message, /^(sessionGuard|rejectUrlSessionIds|rejectCookieTossing): /);
  });

  it('catches app.use(sessionGuard) used without calling it, on the first request', async () => {
    const app = express();
    app.use(sessionGuard as unknown as express.RequestHandler);
    app.get('/', (_req, res) => res.send('served'));
    let caught: unknown;
    app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      caught = err;
      res.status(500).end();
    });
    await request(app).get('/').expect(500);
    assert.ok(caught instanceof TypeError);
    assert.match((caught as Error).message, /^sessionGuard: was used as a middleware without being called\. Write app\.use\(sessionGuard\(\{ secret \}\)\)/);
  });

  it('accepts a secret of exactly 32 bytes, counted in bytes not characters', () => {
    sessionGuard({ secret: 'a'.repeat(32) });
    sessionGuard({ secret: 'é'.repeat(16) });
    throwsExactly(() => sessionGuard({ secret: 'é'.repeat(15) }), Error, `sessionGuard: \`secret\` must be at least 32 bytes; got 30 bytes. ${HINT}`);
  });

  it('accepts an array of secrets, and a production setup with a shared store and its index', () => {
    sessionGuard({ secret: [SECRET, 'an-older-secret-that-is-still-32-bytes-long'] });
    const guard = sessionGuard(production as SessionGuardOptions);
    assert.equal(guard.cookieName, '__Host-sid');
  });

  it('refuses a GuardedStore as the store (it would be wrapped twice)', () => {
    const guarded = sessionGuard({ secret: SECRET }).store;
    throwsExactly(() => sessionGuard({ secret: SECRET, store: guarded }), Error, 'sessionGuard: `store` is already a GuardedStore; pass the store it wraps.');
  });

  it('defaults to a Secure, HttpOnly, SameSite=Lax, host-only __Host-sid cookie with Path=/', async () => {
    const { app } = buildApp();
    const line = setCookieLine(await https(request(app).get('/')).expect(200)) as string;
    assert.ok(line, 'a session cookie is set');
    assert.match(line, /^__Host-sid=s%3A/);
    assert.match(line, /; Path=\//);
    assert.match(line, /; HttpOnly/);
    assert.match(line, /; Secure/);
    assert.match(line, /; SameSite=Lax/);
    assert.doesNotMatch(line, /Domain=/i);
  });

  it('plainHttpDevelopment serves a non-Secure `sid` cookie over plain HTTP', async () => {
    const { app } = buildApp({ plainHttpDevelopment: true, trustProxy: false });
    const line = setCookieLine(await request(app).get('/').expect(200), 'sid') as string;
    assert.ok(line, 'a session cookie is set over plain HTTP');
    assert.doesNotMatch(line, /Secure/);
    assert.match(line, /HttpOnly/);
  });

  describe('a Secure cookie behind a TLS proxy that Express does not trust', () => {
    function untrusted() {
      const audit = memorySink();
      const app = express();
      app.use(sessionGuard({ secret: SECRET, audit }));
      app.get('/', (req, res) => {
        req.session.visits = 1;
        res.json({ ok: true });
      });
      return { app, audit };
    }

    it('is a configuration error (500 SESSION_CONFIG, audited), not a silently missing cookie', async () => {
      const { app, audit } = untrusted();
      const res = await https(request(app).get('/')).expect(500);
      assert.equal(res.body.error.code, 'SESSION_CONFIG');
      assert.match(res.body.error.message, /X-Forwarded-Proto: https.*trust proxy/);
      assert.equal(setCookieLine(res), undefined);
      assert.equal(audit.of('config_error').length, 1);
      assert.equal(audit.of('config_error')[0]?.reason, 'secure cookie behind an untrusted proxy');
    });

    it('keeps refusing every such request, and audits the misconfiguration once', async () => {
      const { app, audit } = untrusted();
      await https(request(app).get('/')).expect(500);
      const again = await https(request(app).get('/')).expect(500);
      assert.equal(again.body.error.code, 'SESSION_CONFIG');
      assert.equal(audit.of('config_error').length, 1);
    });

    it("works once Express trusts the proxy (app.set('trust proxy', 1))", async () => {
      const { app, audit } = untrusted();
      app.set('trust proxy', 1);
      const res = await https(request(app).get('/')).expect(200);
      assert.match(setCookieLine(res) ?? '', /; Secure/);
      assert.equal(audit.of('config_error').length, 0);
    });
  });
});
