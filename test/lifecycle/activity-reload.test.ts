/**
 * A route that reloads its session (`req.session.reload()`, to see what parallel requests
 * saved) gets a new Session object made from the record, without the activity the lifecycle
 * put on the loaded one. The save at the end of the request carries the activity due all the
 * same. Before, it was never recorded, and a user whose requests all went through such a route
 * was idle-expired while active.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildApp, https, login, request } from '../helpers.js';

const MINUTE = 60_000;

describe('activity of a request that reloads its session', () => {
  it('is recorded (the idle timeout counts from it)', async () => {
    const { app, clock } = buildApp({ idleTimeout: '30m' }, (a) => {
      a.get('/poll', (req, res, next) => {
        req.session.reload((err: unknown) => (err ? next(err) : res.json({ ok: true })));
      });
    });
    const cookie = await login(app, 'alice');
    for (let i = 0; i < 3; i++) {
      clock.advance(20 * MINUTE);
      const res = await https(request(app).get('/poll')).set('Cookie', cookie);
      assert.equal(res.status, 200, `poll ${i + 1} (${20 * (i + 1)} min after the login, 20 min after the previous poll) answered ${res.status}`);
    }
  });
});
