import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import express from 'express';
import { authenticated, guarded, requireAuth, SessionGuardError, sessionGuard } from '../../src/index.js';
import { https, request, SECRET } from '../helpers.js';

function appWith(options: { requestMethods?: boolean } = {}): express.Express {
  const app = express();
  app.use(sessionGuard({ secret: SECRET, trustProxy: true, ...options }));
  app.get('/', (req, res) => res.json({ login: typeof req.login, logout: typeof req.logout, guardLogin: typeof guarded(req).login }));
  app.post('/login', async (req, res) => {
    await guarded(req).login('alice');
    res.json({ user: authenticated(req).principal });
  });
  app.get('/me', requireAuth(), (req, res) => res.json({ user: authenticated(req).principal }));
  return app;
}

// The order matters: the first tests run before this process imports the subpath.
describe('sessionGuard request methods', () => {
  it('without fixation-guard/request-methods, req.login & co. are not installed: the API is guarded(req)', async () => {
    const app = appWith();
    await https(request(app).get('/')).expect(200, { login: 'undefined', logout: 'undefined', guardLogin: 'function' });
    const agent = request.agent(app);
    await https(agent.post('/login')).expect(200, { user: 'alice' });
  });

  it('guarded(req) throws SESSION_NOT_MOUNTED before a guard ran; authenticated(req) throws the 401 requireAuth() would answer', async () => {
    assert.throws(() => guarded({}), (err: unknown) => err instanceof SessionGuardError && err.code === 'SESSION_NOT_MOUNTED' && err.status === 500);
    const app = express();
    app.use(sessionGuard({ secret: SECRET, trustProxy: true }));
    app.get('/who', (req, res) => {
      try {
        res.json({ user: authenticated(req).principal });
      } catch (err) {
        const e = err as SessionGuardError;
        res.status(e.status).json({ code: e.code });
      }
    });
    await https(request(app).get('/who')).expect(401, { code: 'UNAUTHENTICATED' });
  });

  it('requestMethods: true installs them without the import', async () => {
    await https(request(appWith({ requestMethods: true })).get('/')).expect(200, { login: 'function', logout: 'function', guardLogin: 'function' });
  });

  it('importing fixation-guard/request-methods installs them for every guard of the process, and a guard with requestMethods: false refuses them', async () => {
    await import('../../src/request-methods/index.js');
    const app = express();
    const partner = express.Router();
    partner.use(sessionGuard({ secret: SECRET, trustProxy: true, requestMethods: false, cookie: { name: '__Host-partner' } }));
    partner.get('/', (req, res) => {
      let refused = '';
      try {
        void req.login('alice');
      } catch (err) {
        refused = (err as Error).message;
      }
      res.json({ sessionGuard: typeof req.sessionGuard?.login, refused });
    });
    app.use('/partner', partner);
    app.use(sessionGuard({ secret: SECRET, trustProxy: true }));
    app.get('/', (req, res) => res.json({ login: typeof req.login }));
    app.post('/login', async (req, res) => {
      await req.login('bob');
      res.json({ user: authenticated(req).principal });
    });
    await https(request(app).get('/')).expect(200, { login: 'function' });
    await https(request(app).post('/login')).expect(200, { user: 'bob' });
    const res = await https(request(app).get('/partner')).expect(200);
    assert.equal(res.body.sessionGuard, 'function');
    assert.match(res.body.refused, /requestMethods: false/);
  });
});
