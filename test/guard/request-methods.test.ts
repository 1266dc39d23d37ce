import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import express from 'express';
import { sessionGuard } from '../../src/index.js';
import { https, request, SECRET } from '../helpers.js';

describe('sessionGuard request methods', () => {
  it("req.login is installed once for the app, and refuses to work under a guard with requestMethods: false", async () => {
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
    await https(request(app).get('/')).expect(200, { login: 'function' });
    const res = await https(request(app).get('/partner')).expect(200);
    assert.equal(res.body.sessionGuard, 'function');
    assert.match(res.body.refused, /requestMethods: false/);
  });
});
