import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient } from 'redis';
import { startRedisServer, type RunningRedis } from '../../scripts/redis-server.js';
import { SessionStoreUnavailableError } from '../../src/errors/index.js';
import { createRedisSessionStores, type RedisSessionStores } from '../../src/redis/index.js';
import { eventually, record, uniquePrefix } from './support.js';

// A private server: these tests stop and restart it.
let server: RunningRedis;
let fleet: RedisSessionStores;
const errors: Error[] = [];
const prefix = uniquePrefix('outage');

before(async () => {
  server = await startRedisServer();
  fleet = createRedisSessionStores({
    url: server.url,
    prefix,
    operationTimeout: '300ms',
    reconnectMaxDelay: '100ms',
    onError: (error) => errors.push(error),
  });
  await fleet.ready;
});

after(async () => {
  await fleet.close();
  await server.stop();
});

async function timed<T>(run: () => Promise<T>): Promise<{ ms: number; error: unknown }> {
  const started = Date.now();
  try {
    await run();
    return { ms: Date.now() - started, error: undefined };
  } catch (error) {
    return { ms: Date.now() - started, error };
  }
}

describe('Redis outage', () => {
  it('rejects every operation quickly while Redis is down, then works again on the same client after a restart', async () => {
    const disconnects: unknown[] = [];
    fleet.store.on('disconnect', () => disconnects.push(1));
    await fleet.store.guardedSet('before', record(60_000, { v: 1 }));

    await server.stop();
    await eventually(() => !fleet.client.isReady, 2_000, 'client noticed the outage');

    const operations: Array<[string, () => Promise<unknown>]> = [
      ['get', () => fleet.store.get('before')],
      ['set', () => fleet.store.set('x', record(60_000))],
      ['destroy', () => fleet.store.destroy('x')],
      ['touch', () => fleet.store.touch('x', record(60_000))],
      ['guardedSet', () => fleet.store.guardedSet('x', record(60_000))],
      ['tombstone', () => fleet.store.tombstone('x', 'logout', Date.now(), 1_000)],
      ['rename', () => fleet.store.rename('x', 'y', record(60_000), Date.now(), 1_000)],
      ['admit', () => fleet.index.admit('u', { sessionId: 'x', createdAt: 1, lastSeenAt: 1 })],
      ['list', () => fleet.index.list('u')],
      ['removeAll', () => fleet.index.removeAll('u')],
    ];
    for (const [name, run] of operations) {
      const { ms, error } = await timed(run);
      assert.ok(error instanceof SessionStoreUnavailableError, `${name} rejected with ${String(error)}`);
      assert.equal(error.status, 503);
      assert.ok(ms < 250, `${name} took ${ms} ms`);
    }
    // express-session's callback API gets the error too (it turns 'disconnect' into fail-open;
    // an error it passes on).
    const viaCallback = await new Promise((resolve) => fleet.store.get('before', (err?: unknown) => resolve(err)));
    assert.ok(viaCallback instanceof SessionStoreUnavailableError);

    await server.restart();
    await eventually(
      async () => {
        try {
          return (await fleet.store.guardedSet('after', record(60_000, { v: 2 }))) === 'written';
        } catch {
          return false;
        }
      },
      3_000,
      'store works again after the restart',
    );
    assert.equal((await fleet.store.get('after')).v, 2);
    assert.deepEqual(await fleet.index.admit('u', { sessionId: 'after', createdAt: 1, lastSeenAt: 1 }), { admitted: true, evicted: [] });
    assert.deepEqual(disconnects, [], 'the store never emits express-session’s disconnect event');
    assert.ok(errors.length > 0, 'connection errors reached onError instead of crashing the process');
  });

  it('a Redis that stops answering fails the operation at operationTimeout instead of hanging', async () => {
    // Another client keeps the single-threaded server busy in a script for 1 s.
    const blocker = createClient({ url: server.url });
    blocker.on('error', () => {});
    await blocker.connect();
    try {
      const busy = blocker.eval(
        "local t = redis.call('TIME') local s = t[1] * 1000000 + t[2] " +
          "repeat local n = redis.call('TIME') until n[1] * 1000000 + n[2] - s > 1000000 return 1",
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      const { ms, error } = await timed(() => fleet.store.get('after'));
      assert.ok(error instanceof SessionStoreUnavailableError, String(error));
      assert.match(error.message, /did not answer GET within 300 ms/);
      assert.ok(ms >= 280 && ms < 800, `took ${ms} ms`);
      await busy;
      assert.equal((await fleet.store.get('after')).v, 2);
    } finally {
      await blocker.close();
    }
  });

  it('starts while Redis is down: operations fail fast until it comes up, without recreating anything', async () => {
    await server.stop();
    const late = createRedisSessionStores({ url: server.url, prefix, operationTimeout: 300, reconnectMaxDelay: 100 });
    try {
      const { ms, error } = await timed(() => late.store.get('after'));
      assert.ok(error instanceof SessionStoreUnavailableError);
      assert.ok(ms < 250, `took ${ms} ms`);
      await server.restart();
      await late.ready;
      assert.equal(await late.store.get('after'), null); // persistence is off: the data is gone
      assert.equal(await late.store.guardedSet('late', record(60_000)), 'written');
    } finally {
      await late.close();
    }
  });

  it('close() returns promptly even while Redis is down', async () => {
    const doomed = createRedisSessionStores({ url: server.url, prefix, operationTimeout: 300 });
    await doomed.ready;
    await server.stop();
    const { ms } = await timed(() => doomed.close());
    assert.ok(ms < 500, `close took ${ms} ms`);
    assert.equal(doomed.client.isOpen, false);
    await server.restart();
  });
});
