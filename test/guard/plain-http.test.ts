import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { after, before, describe, it } from 'node:test';
import type express from 'express';
import { MemorySessionIndex } from '../../src/index.js';
import { isLoopbackHost } from '../../src/guard/plain-http.js';
import { buildApp, https, request, setCookie, setCookieLine } from '../helpers.js';
import { PlainStore } from '../support/plain-store.js';

/** Collects fixation-guard's plain-HTTP process warnings while `fn` runs. */
async function plainHttpWarnings(fn: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const listener = (warning: Error & { code?: string }) => {
    if (warning.code === 'FIXATION_GUARD_PLAIN_HTTP') seen.push(warning.message);
  };
  process.on('warning', listener);
  try {
    await fn();
    await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
  } finally {
    process.off('warning', listener);
  }
  return seen;
}

/**
 * The app on a real server reached from another machine: a non-loopback interface when the
 * machine has one; otherwise the server's sockets report a documentation address as their peer
 * (what a remote client's socket reports), so the test means the same everywhere.
 */
async function remoteServer(app: express.Express): Promise<{ url: string; server: Server }> {
  const external = Object.values(networkInterfaces())
    .flat()
    .find((nic) => nic && nic.family === 'IPv4' && !nic.internal);
  const server = createServer(app);
  if (!external) {
    server.on('connection', (socket: Socket) => Object.defineProperty(socket, 'remoteAddress', { value: '203.0.113.7' }));
  }
  await new Promise<void>((resolve) => server.listen(0, external ? '0.0.0.0' : '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://${external?.address ?? '127.0.0.1'}:${port}`, server };
}

const production = () => ({ env: 'production', store: new PlainStore(), index: new MemorySessionIndex() });

describe('plain HTTP', () => {
  describe('in development, from this machine (socket and Host loopback, no proxy headers)', () => {
    it('serves a working non-Secure `sid` cookie: login, then /me answers 200', async () => {
      const { app } = buildApp({ env: 'development' });
      const login = await request(app).post('/login').send({ username: 'alice' }).expect(200);
      const line = setCookieLine(login, 'sid') as string;
      assert.ok(line, `the login sets the plain-HTTP cookie: ${JSON.stringify(login.headers['set-cookie'])}`);
      assert.doesNotMatch(line, /Secure/i);
      assert.match(line, /HttpOnly/);
      assert.match(line, /SameSite=Lax/);
      assert.equal(setCookie(login), undefined, 'no __Host- cookie, which would need Secure');
      const me = await request(app).get('/me').set('Cookie', setCookie(login, 'sid') as string).expect(200);
      assert.equal(me.body.user, 'alice');
    });

    it('says so once, loudly, naming the production setting, and audits it once', async () => {
      const { app, audit } = buildApp({ env: 'development' });
      const warnings = await plainHttpWarnings(async () => {
        for (let i = 0; i < 3; i++) await request(app).get('/').expect(200);
      });
      assert.equal(warnings.length, 1, `one warning for three requests: ${JSON.stringify(warnings)}`);
      assert.match(warnings[0] as string, /WITHOUT Secure/);
      assert.match(warnings[0] as string, /NODE_ENV=production/);
      assert.match(warnings[0] as string, /trust proxy/);
      assert.equal(audit.of('insecure_configuration').length, 1);
    });

    it('keeps the Secure __Host-sid cookie for a request that came through a proxy claiming https', async () => {
      const { app } = buildApp({ env: 'development' });
      const res = await https(request(app).post('/login')).send({ username: 'alice' }).expect(200);
      assert.match(setCookieLine(res) as string, /; Secure/);
      assert.equal(setCookie(res, 'sid'), undefined);
    });

    it('keeps the two cookies apart: the plain-HTTP `sid` is no session over https', async () => {
      const { app } = buildApp({ env: 'development' });
      const plain = setCookie(await request(app).post('/login').send({ username: 'alice' }).expect(200), 'sid') as string;
      await https(request(app).get('/me')).set('Cookie', plain).expect(401);
    });

    it('refuses the plain-HTTP cookie name in a URL like the configured one', async () => {
      const { app } = buildApp({ env: 'development', cookie: { name: '__Host-app' } });
      const res = await request(app).get('/?app=x').expect(400);
      assert.equal(res.body.error.code, 'SESSION_ID_IN_URL');
    });

    it('is off with `plainHttpDevelopment: false`: the login is refused with the fix', async () => {
      const { app, audit } = buildApp({ env: 'development', plainHttpDevelopment: false });
      const res = await request(app).post('/login').send({ username: 'alice' }).expect(500);
      assert.equal(res.body.error.code, 'SESSION_CONFIG');
      assert.match(res.body.error.message, /trust proxy/);
      assert.equal(res.headers['set-cookie'], undefined);
      assert.equal(audit.of('login').length, 0);
    });
  });

  describe('never weakened', () => {
    it('in development, for a loopback socket whose Host is not loopback (a reverse proxy on this machine)', async () => {
      const { app, audit } = buildApp({ env: 'development' });
      const res = await request(app).post('/login').set('Host', 'app.example.com').send({ username: 'alice' }).expect(500);
      assert.equal(res.body.error.code, 'SESSION_CONFIG');
      assert.match(res.body.error.message, /plain HTTP.*Secure.*trust proxy.*plainHttpDevelopment: true/s);
      assert.equal(res.headers['set-cookie'], undefined);
      assert.equal(audit.of('login').length, 0, 'no login is audited for a login that did not happen');
      assert.equal(audit.of('config_error').length, 1);
    });

    it('in development, for a loopback socket with proxy headers', async () => {
      const { app } = buildApp({ env: 'development', trustProxy: false });
      const res = await request(app).post('/login').set('X-Forwarded-For', '198.51.100.9').send({ username: 'alice' }).expect(500);
      assert.equal(res.headers['set-cookie'], undefined);
    });

    describe('from another machine', () => {
      let remote: { url: string; server: Server };
      let audit: ReturnType<typeof buildApp>['audit'];
      before(async () => {
        const built = buildApp({ env: 'development' });
        audit = built.audit;
        remote = await remoteServer(built.app);
      });
      after(() => remote.server.close());

      it('in development, over plain HTTP: the login is refused with the fix, no cookie, no login audited', async () => {
        const res = await request(remote.url).post('/login').send({ username: 'alice' }).expect(500);
        assert.equal(res.body.error.code, 'SESSION_CONFIG');
        assert.equal(res.headers['set-cookie'], undefined);
        assert.equal(audit.of('login').length, 0);
      });

      it('in development, with a spoofed `Host: localhost`', async () => {
        const res = await request(remote.url).post('/login').set('Host', 'localhost:3000').send({ username: 'alice' }).expect(500);
        assert.equal(res.body.error.code, 'SESSION_CONFIG');
        assert.equal(res.headers['set-cookie'], undefined);
        const anonymous = await request(remote.url).get('/').set('Host', 'localhost').expect(200);
        assert.equal(setCookie(anonymous, 'sid'), undefined, 'no plain-HTTP cookie for a remote peer');
      });
    });

    it('in production, from this machine: the login is refused with the fix (500 SESSION_CONFIG), nothing audited as a login', async () => {
      const { app, audit } = buildApp(production());
      const warnings = await plainHttpWarnings(async () => {
        const res = await request(app).post('/login').send({ username: 'alice' }).expect(500);
        assert.equal(res.body.error.code, 'SESSION_CONFIG');
        assert.match(res.body.error.message, /Serve HTTPS; behind a TLS-terminating proxy, set app\.set\('trust proxy', 1\)/);
        assert.doesNotMatch(res.body.error.message, /plainHttpDevelopment/, 'production is never told to weaken the cookie');
        assert.equal(res.headers['set-cookie'], undefined);
      });
      assert.equal(warnings.length, 1);
      assert.equal(audit.of('login').length, 0);
      assert.equal(audit.of('config_error')[0]?.reason, 'secure cookie over plain HTTP');
      // The same app behind its TLS proxy works, with the Secure cookie.
      const ok = await https(request(app).post('/login')).send({ username: 'alice' }).expect(200);
      assert.match(setCookieLine(ok) as string, /^__Host-sid=.*; Secure/);
    });

    it('in production, a regenerate-then-save login (as passport does) over plain HTTP is an error, not a 200 without cookie', async () => {
      const { app, audit } = buildApp(production(), (a) => {
        a.post('/regenerate-login', (req, res, next) => {
          req.session.regenerate((err) => {
            if (err) return next(err);
            req.session.user = 'alice';
            req.session.save((saveErr) => (saveErr ? next(saveErr) : res.json({ ok: true })));
          });
        });
      });
      const res = await request(app).post('/regenerate-login').expect(500);
      assert.equal(res.body.error.code, 'SESSION_CONFIG');
      assert.equal(audit.of('login').length, 0);
    });

    it('in production, an anonymous session stored over plain HTTP is answered, and its lost cookie reported once', async () => {
      const { app, audit } = buildApp(production());
      const warnings = await plainHttpWarnings(async () => {
        await request(app).get('/').expect(200);
        await request(app).get('/').expect(200);
      });
      assert.equal(warnings.length, 1);
      assert.match(warnings[0] as string, /GET \/ arrived over plain HTTP.*lost after this response/);
      assert.equal(audit.of('config_error').length, 1);
    });
  });

  it('reads a Host as loopback only when it is one (localhost, *.localhost, 127/8, [::1], with a port)', () => {
    for (const host of ['localhost', 'localhost:3000', 'LOCALHOST.', 'app.localhost:8080', '127.0.0.1', '127.1.2.3:80', '[::1]', '[::1]:3000']) {
      assert.equal(isLoopbackHost(host), true, host);
    }
    for (const host of [undefined, '', 'localhost.example.com', 'example.com', '127.0.0.1.nip.io', '[::2]', '[::1]x', 'localhost:x', '10.0.0.1', 'evil.com#localhost']) {
      assert.equal(isLoopbackHost(host), false, String(host));
    }
  });
});
