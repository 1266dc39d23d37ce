/**
 * The activity of a read-only request (GuardedStore.recordActivity) is written into the record
 * the store holds now, its cookie included: a parallel request that changed the session's
 * cookie (here "this is a public computer": the cookie and record live one hour instead of the
 * default 60 days) keeps its change when a read of the same page ends last, and the read's
 * answer carries the record's cookie. Before, the activity put the cookie this request loaded
 * back into the record (the 60-day one), and every later response sent it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Gate, buildApp, https, login, post, request } from '../helpers.js';
import { storeKinds } from '../support/login-paths.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const stores = storeKinds('activity-cookie');

for (const [name, options] of stores) {
  describe(`a parallel read's activity keeps a shortened cookie ("public computer") saved meanwhile (${name})`, () => {
    it('the one-hour cookie stays after a read of the same page ends last', async () => {
      const gate = new Gate();
      const { app, clock } = buildApp({ ...(await options()), idleTimeout: '7d', absoluteTimeout: '60d' }, (a) => {
        a.post('/public-computer', (req, res) => {
          req.session.cookie.maxAge = HOUR;
          res.json({ ok: true });
        });
        a.get('/badge', async (_req, res) => {
          await gate.pass();
          res.json({ ok: true });
        });
        a.get('/cookie-age', (req, res) => res.json({ maxAge: req.session.cookie.originalMaxAge }));
      });
      const cookie = await login(app, 'alice');
      clock.advance(2 * MINUTE); // both requests are due for their activity
      const badge = https(request(app).get('/badge')).set('Cookie', cookie).then((r) => r);
      await gate.arrived(1);
      await post(app, '/public-computer', cookie).expect(200);
      const before = (await https(request(app).get('/cookie-age')).set('Cookie', cookie).expect(200)).body as { maxAge: number };
      assert.ok(before.maxAge <= HOUR, `the short cookie is saved (${before.maxAge})`);
      gate.open();
      assert.equal((await badge).status, 200);
      const res = await https(request(app).get('/cookie-age')).set('Cookie', cookie).expect(200);
      const maxAge = (res.body as { maxAge: number }).maxAge;
      assert.ok(maxAge <= HOUR, `the parallel read's activity put the loaded 60-day cookie back (maxAge ${maxAge} ms)`);
    });
  });
}
