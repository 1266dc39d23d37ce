import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import express from 'express';
import { ManualClock, requireAuth, secureHeaders, sessionGuard, type SecureHeadersOptions, authenticated, guarded } from '../../src/index.js';
import { https, request, SECRET, setCookie } from '../helpers.js';

function headersApp(options?: SecureHeadersOptions | false) {
  const app = express();
  app.use(express.json());
  if (options !== false) app.use(secureHeaders(options));
  app.use(sessionGuard({ secret: SECRET, clock: new ManualClock(), trustProxy: true }));
  app.get('/', (req, res) => {
    req.session.visits = (req.session.visits ?? 0) + 1;
    res.json({ visits: req.session.visits });
  });
  app.post('/login', async (req, res, next) => {
    try {
      await guarded(req).login('alice');
      res.json({ user: 'alice' });
    } catch (err) {
      next(err);
    }
  });
  app.get('/me', requireAuth(), (req, res) => res.json({ user: authenticated(req).principal }));
  app.get('/account', (req, res) => res.send(`<h1>${req.sessionGuard?.principal ?? 'guest'}</h1>`));
  app.post('/logout', async (req, res, next) => {
    try {
      await guarded(req).logout();
      res.status(204).end();
    } catch (err) {
      next(err);
    }
  });
  return app;
}

async function loggedIn(app: express.Express): Promise<string> {
  const cookie = setCookie(await https(request(app).post('/login')).send({}).expect(200));
  assert.ok(cookie);
  return cookie;
}

describe('secureHeaders', () => {
  it("adds helmet's headers to every response", async () => {
    const res = await https(request(headersApp({})).get('/')).expect(200);
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.headers['x-frame-options'], 'SAMEORIGIN');
    assert.match(res.headers['content-security-policy'] ?? '', /default-src 'self'/);
    assert.match(res.headers['strict-transport-security'] ?? '', /max-age=\d+/);
    assert.equal(res.headers['referrer-policy'], 'same-origin', "same-origin, not helmet's no-referrer: the login form's POST keeps its Origin");
    assert.equal(res.headers['x-powered-by'], undefined);
  });

  it('lets the app choose its own Referrer-Policy', async () => {
    const res = await https(request(headersApp({ helmet: { referrerPolicy: { policy: 'no-referrer' } } })).get('/')).expect(200);
    assert.equal(res.headers['referrer-policy'], 'no-referrer');
  });

  it('passes helmet options through', async () => {
    const res = await https(request(headersApp({ helmet: { frameguard: { action: 'deny' }, contentSecurityPolicy: false } })).get('/')).expect(200);
    assert.equal(res.headers['x-frame-options'], 'DENY');
    assert.equal(res.headers['content-security-policy'], undefined);
  });

  it('helmet: false leaves helmet out and keeps the session headers', async () => {
    const app = headersApp({ helmet: false });
    const res = await https(request(app).get('/')).expect(200);
    assert.equal(res.headers['x-content-type-options'], undefined);
    assert.equal(res.headers['content-security-policy'], undefined);
    const cookie = await loggedIn(app);
    const me = await https(request(app).get('/me')).set('Cookie', cookie).expect(200);
    assert.equal(me.headers['cache-control'], 'no-store');
  });

  describe('Cache-Control: no-store on authenticated responses', () => {
    it('without it, a page rendered for a logged-in user carries no cache directive (a shared cache may keep it)', async () => {
      const app = headersApp(false);
      const cookie = await loggedIn(app);
      const res = await https(request(app).get('/account')).set('Cookie', cookie).expect(200);
      assert.equal(res.text, '<h1>alice</h1>');
      assert.equal(res.headers['cache-control'], undefined);
    });

    it('with it, every response of an authenticated session is no-store (and Pragma: no-cache)', async () => {
      const app = headersApp();
      const cookie = await loggedIn(app);
      for (const path of ['/account', '/me', '/']) {
        const res = await https(request(app).get(path)).set('Cookie', cookie).expect(200);
        assert.equal(res.headers['cache-control'], 'no-store', path);
        assert.equal(res.headers.pragma, 'no-cache', path);
      }
    });

    it('the login response itself is no-store (the session is authenticated by the time headers are written)', async () => {
      const res = await https(request(headersApp()).post('/login')).send({}).expect(200);
      assert.equal(res.headers['cache-control'], 'no-store');
    });

    it('anonymous responses stay cacheable: no no-store is added', async () => {
      const app = headersApp();
      const res = await https(request(app).get('/account')).expect(200);
      assert.equal(res.text, '<h1>guest</h1>');
      assert.equal(res.headers['cache-control'], undefined);
      assert.equal(res.headers.pragma, undefined);
    });

    it('noStoreWhenAuthenticated: false turns it off', async () => {
      const app = headersApp({ noStoreWhenAuthenticated: false });
      const cookie = await loggedIn(app);
      const res = await https(request(app).get('/account')).set('Cookie', cookie).expect(200);
      assert.equal(res.headers['cache-control'], undefined);
    });
  });

  describe('Clear-Site-Data on logout', () => {
    it('without it, the logout response only clears the session cookie', async () => {
      const app = headersApp(false);
      const cookie = await loggedIn(app);
      const res = await https(request(app).post('/logout')).set('Cookie', cookie).expect(204);
      assert.equal(res.headers['clear-site-data'], undefined);
    });

    it('with it, the logout response tells the browser to drop every cookie of the site, and is no-store', async () => {
      const app = headersApp();
      const cookie = await loggedIn(app);
      const res = await https(request(app).post('/logout')).set('Cookie', cookie).expect(204);
      assert.equal(res.headers['clear-site-data'], '"cookies"');
      assert.equal(res.headers['cache-control'], 'no-store');
    });

    it('only the logout response carries it', async () => {
      const app = headersApp();
      const cookie = await loggedIn(app);
      for (const res of [
        await https(request(app).get('/')).expect(200),
        await https(request(app).get('/me')).set('Cookie', cookie).expect(200),
        await https(request(app).post('/login')).send({}).expect(200),
      ]) {
        assert.equal(res.headers['clear-site-data'], undefined);
      }
    });

    it('clearSiteDataOnLogout: false turns it off', async () => {
      const app = headersApp({ clearSiteDataOnLogout: false });
      const cookie = await loggedIn(app);
      const res = await https(request(app).post('/logout')).set('Cookie', cookie).expect(204);
      assert.equal(res.headers['clear-site-data'], undefined);
    });
  });

  it('refuses options that are not an object', () => {
    assert.throws(() => secureHeaders('strict' as never), {
      name: 'TypeError',
      message: 'secureHeaders: options must be an object; got "strict"',
    });
  });
});
