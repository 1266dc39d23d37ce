/**
 * A fleet of two app instances while their Redis (a private redis-server) is stopped in the
 * middle of traffic and started again: 503s and audit events, never a 500, never a new
 * anonymous session in place of the user's, and service back without restarting the apps.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient, RESP_TYPES } from 'redis';
import { startRedisServer, type RunningRedis } from '../../scripts/redis-server.js';
import { ManualClock } from '../../src/index.js';
import { createRedisSessionStores, type RedisSessionStores } from '../../src/redis/index.js';
import { anonymousCookie, buildApp, https, loginWith, request, setCookie, type TestApp } from '../helpers.js';
import { eventually, uniquePrefix } from './support.js';

const prefix = uniquePrefix('fleet-outage');
let server: RunningRedis;
let redisA: RedisSessionStores;
let redisB: RedisSessionStores;
let a: TestApp;
let b: TestApp;

before(async () => {
  server = await startRedisServer();
  const options = { url: server.url, prefix, operationTimeout: '300ms', reconnectMaxDelay: '100ms' };
  redisA = createRedisSessionStores(options);
  redisB = createRedisSessionStores(options);
  await Promise.all([redisA.ready, redisB.ready]);
  const clock = new ManualClock();
  a = buildApp({ store: redisA.store, index: redisA.index, clock, storeTimeout: 1_000 });
  b = buildApp({ store: redisB.store, index: redisB.index, clock, storeTimeout: 1_000 });
});

after(async () => {
  await redisA.close();
  await redisB.close();
  await server.stop();
});

type Snapshot = Array<{ key: string; ttl: number; value: Buffer }>;

/** What a persistent Redis would bring back after a restart (the test server has persistence off). */
async function snapshot(): Promise<Snapshot> {
  const admin = createClient({ url: server.url }).withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
  await admin.connect();
  try {
    const saved: Snapshot = [];
    for (const key of await admin.keys(`${prefix}*`)) {
      const value = await admin.dump(key);
      if (value) saved.push({ key: key.toString(), ttl: Math.max(0, await admin.pTTL(key)), value });
    }
    return saved;
  } finally {
    await admin.close();
  }
}

async function restore(saved: Snapshot): Promise<void> {
  const admin = createClient({ url: server.url });
  await admin.connect();
  try {
    for (const { key, ttl, value } of saved) await admin.restore(key, ttl, value, { REPLACE: true });
  } finally {
    await admin.close();
  }
}

function me(app: TestApp, cookie: string) {
  return https(request(app.app).get('/me')).set('Cookie', cookie);
}

describe('fleet on Redis: outage', () => {
  it('answers 503 with an audit event while Redis is down, never 500 or a new anonymous session, and recovers by itself', async () => {
    const cookie = setCookie(await loginWith(a.app, await anonymousCookie(a.app), 'alice').expect(200)) as string;
    await me(b, cookie).expect(200);
    const saved = await snapshot();

    // Traffic on both instances while the server goes away.
    const traffic = Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        await new Promise((resolve) => setTimeout(resolve, i * 5));
        const app = i % 2 ? a : b;
        return await (i % 4 < 2 ? me(app, cookie) : https(request(app.app).get('/')).set('Cookie', cookie));
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 40));
    await server.stop();
    const responses = await traffic;

    const unavailable = responses.filter((res) => res.status === 503);
    assert.ok(unavailable.length > 0, 'some requests hit the outage');
    for (const res of responses) {
      assert.ok(res.status === 200 || res.status === 503, `status ${res.status}: ${JSON.stringify(res.body)}`);
    }
    for (const res of unavailable) {
      assert.equal(res.body.error.code, 'SESSION_STORE_UNAVAILABLE');
      assert.equal(setCookie(res), undefined, 'no cookie that would replace the user’s session');
    }

    // While down: every request that carries a session, and every login, is a fast 503.
    for (const test of [me(a, cookie), https(request(b.app).get('/')).set('Cookie', cookie), https(request(a.app).get('/')).set('Cookie', cookie), loginWith(b.app, undefined, 'bob')]) {
      const started = Date.now();
      const res = await test;
      assert.equal(res.status, 503, `${JSON.stringify(res.body)}`);
      assert.equal(setCookie(res), undefined);
      assert.ok(Date.now() - started < 1_000, `took ${Date.now() - started} ms`);
    }
    assert.ok(a.audit.of('store_unavailable').length >= 1);
    assert.ok(b.audit.of('store_unavailable').length >= 1);

    // Redis comes back with its data; the same apps, clients and cookie work again.
    await server.restart();
    await restore(saved);
    // Each instance's client reconnects on its own backoff.
    await eventually(async () => (await me(b, cookie)).status === 200, 5_000, 'B serves the session again');
    await eventually(async () => (await me(a, cookie)).status === 200, 5_000, 'A serves the session again');
    assert.equal((await me(a, cookie).expect(200)).body.user, 'alice');
    assert.ok(b.audit.of('store_recovered').length >= 1);
    const visits = await https(request(a.app).get('/')).set('Cookie', cookie).expect(200);
    assert.ok(visits.body.visits >= 1);
  });
});
