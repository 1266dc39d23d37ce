/**
 * A read-only request due for its activity records it through `RedisSessionStore.recordActivity`
 * (a GET, then the compare-and-set script) on a Redis Cluster client (REDIS_CLUSTER_URLS) with the `spread` layout:
 * the request answers 200, the record holds the activity, a parallel change stays, and the idle
 * timeout counts from it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { stateOf } from '../../src/policy/state.js';
import type { RedisClusterSessionStores } from '../../src/redis/index.js';
import { Gate, anonymousCookie, buildApp, https, idOf, login, me, post, request } from '../helpers.js';
import { clusterStores, uniqueSpreadPrefix } from '../cluster/support.js';

const MINUTE = 60_000;
let stores: RedisClusterSessionStores;
before(async () => {
  stores = await clusterStores(uniqueSpreadPrefix('cluster-activity'));
});
after(async () => {
  await stores.close();
});

describe('Redis Cluster (spread): activity recorded in the record', () => {
  it('a read-only request records its activity; the idle timeout counts from it', async () => {
    const { app, clock } = buildApp({ store: stores.store, index: stores.index, idleTimeout: '30m' });
    const cookie = await login(app, 'alice');
    clock.advance(20 * MINUTE);
    await me(app, cookie).expect(200);
    const stored = (await stores.store.get(idOf(cookie))) as Record<string, unknown>;
    assert.equal(stateOf(stored)?.lastSeenAt, clock.now(), 'the record holds the activity');
    clock.advance(20 * MINUTE);
    await me(app, cookie).expect(200);
    clock.advance(31 * MINUTE);
    await me(app, cookie).expect(401);
  });

  it('an anonymous session records its activity too', async () => {
    const { app, clock } = buildApp({ store: stores.store, index: stores.index, idleTimeout: '30m' });
    const cookie = await anonymousCookie(app);
    clock.advance(5 * MINUTE);
    const res = await https(request(app).get('/session-data')).set('Cookie', cookie);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const stored = (await stores.store.get(idOf(cookie))) as Record<string, unknown>;
    assert.equal(stateOf(stored)?.lastSeenAt, clock.now());
  });

  it("a parallel change stays when a read-only request's activity ends last", async () => {
    const gate = new Gate();
    const { app, clock } = buildApp({ store: stores.store, index: stores.index }, (a) => {
      a.get('/held', async (req, res) => {
        await gate.pass();
        res.json({ cart: req.session.cart ?? null });
      });
    });
    const cookie = await login(app, 'bob');
    clock.advance(2 * MINUTE);
    const held = https(request(app).get('/held')).set('Cookie', cookie).then((r) => r);
    await gate.arrived(1);
    await post(app, '/cart', cookie).send({ item: 'book' }).expect(200);
    gate.open();
    assert.equal((await held).status, 200);
    const data = await https(request(app).get('/session-data')).set('Cookie', cookie).expect(200);
    assert.deepEqual(data.body.cart, ['book']);
  });
});
