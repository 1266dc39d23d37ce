import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import express, { type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import { Auditor, memorySink, rejectUrlSessionIds } from '../../src/index.js';
import { anonymousCookie, buildApp, https, request, SECRET, setCookie } from '../helpers.js';

/**
 * A legacy "URL session" feature, the kind servlet containers ship (`;jsessionid=`): when a
 * request has no cookie, the `sid` query parameter is used as the session cookie. Mounted
 * before the guard, it is exactly what the URL check exists to stop.
 */
function honourUrlSessionIds(app: express.Express): void {
  app.use(function urlSessionAdapter(req, _res, next) {
    const match = /[?&]sid=([^&]*)/.exec(req.url);
    if (match && !req.headers.cookie) req.headers.cookie = `__Host-sid=${match[1]}`;
    next();
  });
}

function appWithUrlAdapter(urlSessionIds: false | { action?: 'reject' | 'strip' }) {
  const audit = memorySink();
  const app = express();
  app.use(express.json());
  honourUrlSessionIds(app);
  const built = buildApp({ urlSessionIds, audit });
  app.use(built.app);
  return { app, audit, guardApp: built.app };
}

function echo(app: express.Express): void {
  app.use((req, res, next) => {
    if (!req.path.startsWith('/echo')) return next();
    res.json({ url: req.url, originalUrl: req.originalUrl, query: req.query });
  });
}

const REJECTED_URLS: Array<[string, string]> = [
  ['?sid=', '/session-data?sid=s%3Aattacker.sig'],
  ['the cookie name in the query (?__Host-sid=)', '/session-data?__Host-sid=s%3Aattacker.sig'],
  ['?JSESSIONID= (any case)', '/session-data?JSESSIONID=ABC123'],
  ['?PHPSESSID=', '/session-data?page=2&PHPSESSID=abc'],
  ['?connect.sid=', '/session-data?connect.sid=s%3Aabc'],
  ['a `;jsessionid=` path parameter', '/session-data;jsessionid=ABC123'],
  ['a `;JSESSIONID=` path parameter in an inner segment', '/account;JSESSIONID=ABC123/settings'],
  ['a percent-encoded name (?%73id=)', '/session-data?%73id=abc'],
  ['a percent-encoded cookie name (?__Host%2Dsid=)', '/session-data?__Host%2Dsid=abc'],
  ['a name without a value (?sid)', '/session-data?sid'],
  ['a name after other parameters (?a=1&b=2&SessionId=x)', '/session-data?a=1&b=2&SessionId=x'],
  ['a bracketed name, as the extended query parser reads it (?sid[]=)', '/session-data?sid[]=abc'],
  ['an indexed name (?sid[0]=)', '/session-data?sid[0]=abc'],
  ['an encoded bracketed name (?sid%5B%5D=)', '/session-data?sid%5B%5D=abc'],
  ['a path parameter behind an encoded semicolon (/a%3Bjsessionid=)', '/a%3Bjsessionid=x'],
  ['a path parameter behind a lower-case encoded semicolon (/a%3bjsessionid=)', '/a%3bjsessionid=x'],
  ['an encoded bracketed name followed by a broken escape (?sid%5B%5D%ZZ=)', '/session-data?sid%5B%5D%ZZ=abc'],
];

/**
 * Keys that open with a bracket: Express's `extended` query parser (qs) reads `[sid]=X` as
 * `sid=X`, so each of these reaches `req.query.sid` unless it is refused.
 */
const LEADING_BRACKET_URLS: Array<[string, string, string]> = [
  ['?[sid]=', '/echo?[sid]=abc', 'sid'],
  ['?%5Bsid%5D=', '/echo?%5Bsid%5D=abc', 'sid'],
  ['?%5bsid%5d= (lower-case escapes)', '/echo?%5bsid%5d=abc', 'sid'],
  ['?[__Host-sid]= (the cookie name)', '/echo?[__Host-sid]=abc', '__host-sid'],
  ['?page=2&[JSESSIONID]= (any case, after other parameters)', '/echo?page=2&[JSESSIONID]=abc', 'jsessionid'],
  ['?[sid][x]= (a nested key under sid)', '/echo?[sid][x]=abc', 'sid'],
  ['?[sid]]= (a stray closing bracket)', '/echo?[sid]]=abc', 'sid'],
  ['?%5Bsid%5D%ZZ= (a broken escape after the brackets)', '/echo?%5Bsid%5D%ZZ=abc', 'sid'],
];

function extendedQueryEcho(app: express.Express): void {
  app.set('query parser', 'extended');
  echo(app);
}

describe('rejectUrlSessionIds', () => {
  it('with the check off, an app that honours ?sid= lets an attacker attach the victim to his session (the attack works)', async () => {
    const { app } = appWithUrlAdapter(false);
    const attacker = await anonymousCookie(app);
    const value = attacker.slice(attacker.indexOf('=') + 1);
    // The victim clicks the attacker's link and adds something to "her" cart.
    await https(request(app).post(`/cart?sid=${value}`)).send({ item: 'victim-address' }).expect(200);
    const seen = await https(request(app).get('/session-data')).set('Cookie', attacker).expect(200);
    assert.deepEqual(seen.body.cart, ['victim-address'], "the victim's data landed in the attacker's session");
  });

  it('with the check on, the same link is refused (400 SESSION_ID_IN_URL), audited, and the attacker session untouched', async () => {
    const { app, audit } = appWithUrlAdapter({});
    const attacker = await anonymousCookie(app);
    const value = attacker.slice(attacker.indexOf('=') + 1);
    const res = await https(request(app).post(`/cart?sid=${value}`)).send({ item: 'victim-address' }).expect(400);
    assert.equal(res.body.error.code, 'SESSION_ID_IN_URL');
    assert.match(res.body.error.message, /only accepted from the session cookie.*parameter: sid/);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal(setCookie(res), undefined, 'no session is created for the refused request');
    const seen = await https(request(app).get('/session-data')).set('Cookie', attacker).expect(200);
    assert.equal(seen.body.cart, null);
    const events = audit.of('url_session_id_rejected');
    assert.equal(events.length, 1);
    assert.equal(events[0]?.reason, 'rejected');
    assert.deepEqual(events[0]?.detail, { params: 'sid', location: 'query', method: 'POST' });
    assert.ok(!JSON.stringify(events).includes(value), 'the id in the URL is not copied into the audit event');
  });

  for (const [what, url] of REJECTED_URLS) {
    it(`refuses ${what} with 400 and an audit event`, async () => {
      const { app, audit } = buildApp();
      const res = await https(request(app).get(url)).expect(400);
      assert.equal(res.body.error.code, 'SESSION_ID_IN_URL');
      assert.equal(audit.of('url_session_id_rejected').length, 1);
    });
  }

  it('with the check off and the extended query parser, ?[sid]= reaches req.query as sid (the bypass works)', async () => {
    const { app } = buildApp({ urlSessionIds: false }, extendedQueryEcho);
    const res = await https(request(app).get('/echo?[sid]=abc')).expect(200);
    assert.deepEqual(res.body.query, { sid: 'abc' });
  });

  for (const [what, url, params] of LEADING_BRACKET_URLS) {
    it(`with the extended query parser, refuses a leading-bracket key ${what} with 400 and an audit event, like ?sid=`, async () => {
      const { app, audit } = buildApp({}, extendedQueryEcho);
      const res = await https(request(app).get(url)).expect(400);
      assert.equal(res.body.error.code, 'SESSION_ID_IN_URL');
      const events = audit.of('url_session_id_rejected');
      assert.equal(events.length, 1);
      assert.equal(events[0]?.reason, 'rejected');
      assert.deepEqual(events[0]?.detail, { params, location: 'query', method: 'GET' });
    });
  }

  it('with the extended query parser, leaves brackets in values and after other names alone (?q=[sid], ?filter[name]=, ?filter[sid]=)', async () => {
    const { app, audit } = buildApp({}, extendedQueryEcho);
    const urls = ['/echo?q=[sid]', '/echo?q=%5Bsid%5D', '/echo?filter[name]=x', '/echo?filter[sid]=x', '/echo?filter%5Bsid%5D=x', '/echo?[page]=2'];
    for (const url of urls) {
      const res = await https(request(app).get(url));
      assert.equal(res.status, 200, `${url} → ${res.status}`);
      assert.equal(res.body.url, url, 'the URL is not rewritten');
    }
    assert.equal(audit.of('url_session_id_rejected').length, 0);
  });

  it("with action 'strip' and the extended query parser, removes a leading-bracket key and keeps the rest", async () => {
    const { app } = buildApp({ urlSessionIds: { action: 'strip' } }, extendedQueryEcho);
    const res = await https(request(app).get('/echo?page=2&%5Bsid%5D=abc&[__Host-sid]=def&filter[name]=x')).expect(200);
    assert.deepEqual(res.body, { url: '/echo?page=2&filter[name]=x', originalUrl: '/echo?page=2&filter[name]=x', query: { page: '2', filter: { name: 'x' } } });
  });

  it('reports where the id was found: the path or the query', async () => {
    const { app, audit } = buildApp();
    await https(request(app).get('/x;jsessionid=1')).expect(400);
    await https(request(app).get('/x?jsessionid=1')).expect(400);
    assert.deepEqual(audit.of('url_session_id_rejected').map((e) => e.detail?.location), ['path', 'query']);
    assert.deepEqual(audit.of('url_session_id_rejected').map((e) => e.detail?.params), ['jsessionid', 'jsessionid']);
  });

  it('urlSessionIds: true means on with the defaults (as in helmet)', async () => {
    const { app } = buildApp({ urlSessionIds: true });
    await https(request(app).get('/session-data?sid=abc')).expect(400);
  });

  it('refuses extra names given in `names`', async () => {
    const { app } = buildApp({ urlSessionIds: { names: ['token'] } });
    await https(request(app).get('/session-data?token=abc')).expect(400);
    await https(request(app).get('/session-data?sid=abc')).expect(400);
  });

  it("with action 'strip', removes the ids from the URL, keeps the other parameters and continues", async () => {
    const { app, audit } = buildApp({ urlSessionIds: { action: 'strip' } }, echo);
    const res = await https(request(app).get('/echo?page=2&sid=abc&JSESSIONID=def&q=x')).expect(200);
    assert.deepEqual(res.body, { url: '/echo?page=2&q=x', originalUrl: '/echo?page=2&q=x', query: { page: '2', q: 'x' } });
    const path = await https(request(app).get('/echo;jsessionid=abc?x=1')).expect(200);
    assert.equal(path.body.url, '/echo?x=1');
    const only = await https(request(app).get('/echo?sid=abc')).expect(200);
    assert.equal(only.body.url, '/echo');
    assert.deepEqual(audit.of('url_session_id_rejected').map((e) => e.reason), ['stripped', 'stripped', 'stripped']);
  });

  it("with action 'strip', the stripped id is not used: the request gets no session from it", async () => {
    const { app } = buildApp({ urlSessionIds: { action: 'strip' } });
    const victim = await anonymousCookie(app);
    await https(request(app).post('/cart')).set('Cookie', victim).send({ item: 'book' }).expect(200);
    const value = victim.slice(victim.indexOf('=') + 1);
    const res = await https(request(app).get(`/session-data?__Host-sid=${value}`)).expect(200);
    assert.equal(res.body.cart, null);
  });

  it('leaves innocent query strings and path parameters alone', async () => {
    const { app, audit } = buildApp({}, echo);
    const urls = [
      '/echo?sidebar=open&session=summer&q=sid',
      '/echo?q=sid%3Dabc&search=jsessionid',
      '/echo?lang=en;v=2',
      '/echo?%ZZ=broken-encoding',
      '/echo',
    ];
    for (const url of urls) {
      const res = await https(request(app).get(url));
      assert.equal(res.status, 200, `${url} → ${res.status}`);
      assert.equal(res.body.url, url, 'the URL is not rewritten');
    }
    const path = await https(request(app).get('/echo;v=2'));
    assert.notEqual(path.status, 400);
    assert.equal(audit.of('url_session_id_rejected').length, 0);
  });

  it('can be switched off on its own: urlSessionIds: false serves ?sid= requests as usual', async () => {
    const { app, audit } = buildApp({ urlSessionIds: false });
    await https(request(app).get('/session-data?sid=abc;jsessionid=def')).expect(200);
    assert.equal(audit.of('url_session_id_rejected').length, 0);
  });

  describe('used on its own, with plain express-session', () => {
    function standalone(options: Parameters<typeof rejectUrlSessionIds>[0]) {
      const app = express();
      app.use(rejectUrlSessionIds(options));
      app.use(session({ secret: SECRET, resave: false, saveUninitialized: false, name: 'app.sid' }));
      app.get('/', (req, res) => res.json({ url: req.url }));
      app.use((err: { status?: number; code?: string }, _req: Request, res: Response, _next: NextFunction) => {
        res.status(err.status ?? 500).json({ code: err.code });
      });
      return app;
    }

    it('refuses the default names and the given cookie name, passing a 400 SessionGuardError to next()', async () => {
      const events = memorySink();
      const app = standalone({ cookieName: 'app.sid', audit: new Auditor({ sinks: [events] }) });
      assert.deepEqual((await request(app).get('/?app.sid=abc').expect(400)).body, { code: 'SESSION_ID_IN_URL' });
      await request(app).get('/?PhpSessId=abc').expect(400);
      await request(app).get('/?page=1').expect(200);
      assert.equal(events.of('url_session_id_rejected').length, 2);
    });

    it('works without an auditor and with no options at all', async () => {
      const app = standalone(undefined);
      await request(app).get('/?sid=abc').expect(400);
      await request(app).get('/?app.sid=abc').expect(200);
    });

    it('refuses invalid options at construction', () => {
      assert.throws(() => rejectUrlSessionIds({ action: 'drop' as never }), {
        name: 'Error',
        message: "rejectUrlSessionIds: `action` must be 'reject' or 'strip'; got \"drop\"",
      });
      assert.throws(() => rejectUrlSessionIds({ names: 'sid' as never }), {
        name: 'TypeError',
        message: 'rejectUrlSessionIds: `names` must be an array of non-empty strings; got "sid"',
      });
      assert.throws(() => rejectUrlSessionIds({ names: [''] }), {
        name: 'TypeError',
        message: 'rejectUrlSessionIds: `names` must be an array of non-empty strings; got [""]',
      });
      assert.throws(() => rejectUrlSessionIds(null as never), {
        name: 'TypeError',
        message: 'rejectUrlSessionIds: options must be an object; got null',
      });
    });
  });
});
