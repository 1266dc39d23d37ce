import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import express from 'express';
import { memorySink, MemorySessionIndex, sessionGuard } from '../../src/index.js';
import { createRedisSessionStores } from '../../src/redis/index.js';
import { https, request, SECRET, setCookie } from '../helpers.js';
import { uniquePrefix } from '../redis/support.js';
import { PlainStore } from '../support/plain-store.js';

/** Every process warning emitted while `fn` runs (warnings arrive on the next tick). */
async function warningsDuring(fn: () => Promise<void>): Promise<Error[]> {
  const seen: Error[] = [];
  const listener = (warning: Error) => seen.push(warning);
  process.on('warning', listener);
  try {
    await fn();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', listener);
  }
  return seen;
}

const GUARDS = 12;

describe('several guards on one store', () => {
  const redis = createRedisSessionStores({ url: process.env.REDIS_URL, prefix: uniquePrefix('shared') });
  after(() => redis.close());

  for (const [name, make] of [
    ['a plain store', () => ({ store: new PlainStore(), index: new MemorySessionIndex() })],
    ['the Redis store', () => ({ store: redis.store, index: redis.index })],
  ] as const) {
    it(`${GUARDS} guards on ${name} emit no MaxListenersExceededWarning, and each still serves`, async () => {
      await redis.ready;
      const { store, index } = make();
      const apps: express.Express[] = [];
      const warnings = await warningsDuring(async () => {
        for (let i = 0; i < GUARDS; i++) {
          const app = express();
          app.use(sessionGuard({ secret: SECRET, store, index, trustProxy: true, env: 'development' }));
          app.get('/', (req, res) => {
            req.session.visits = (req.session.visits ?? 0) + 1;
            res.json({ visits: req.session.visits });
          });
          apps.push(app);
        }
      });
      const leaks = warnings.filter((w) => w.name === 'MaxListenersExceededWarning');
      assert.deepEqual(leaks.map((w) => w.message), []);
      assert.ok(store.listenerCount('disconnect') <= 1, `${store.listenerCount('disconnect')} 'disconnect' listeners on the shared store`);
      for (const app of apps) {
        const cookie = setCookie(await https(request(app).get('/')).expect(200)) as string;
        assert.deepEqual((await https(request(app).get('/')).set('Cookie', cookie).expect(200)).body, { visits: 2 });
      }
    });
  }

  it("a store's 'disconnect' and 'connect' still reach every guard on it (fail closed, then recover)", async () => {
    const store = new PlainStore();
    const audits = Array.from({ length: GUARDS }, () => memorySink());
    const apps = audits.map((audit) => {
      const app = express();
      app.use(sessionGuard({ secret: SECRET, store, index: new MemorySessionIndex(), audit, trustProxy: true, env: 'development' }));
      app.get('/', (req, res) => res.json({ ok: req.session !== undefined }));
      return app;
    });
    store.emit('disconnect');
    for (const audit of audits) assert.equal(audit.of('store_unavailable').length, 1);
    store.emit('connect');
    for (const audit of audits) assert.equal(audit.of('store_recovered').length, 1);
    for (const app of apps) await https(request(app).get('/')).expect(200);
  });
});
