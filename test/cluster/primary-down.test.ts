/**
 * A primary of a three-primary Redis Cluster (no replicas) killed mid-traffic: the sessions in
 * its slots get 503s — never a 200 for someone else, never a 401 that would throw the user out
 * or an anonymous session in place of theirs — while the other two thirds keep serving; once
 * the node is back on its port, with its data, every session serves again without restarting
 * the app. The cluster here is this file's own (it kills one of its nodes).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../src/index.js';
import { createRedisClusterSessionStores, type RedisClusterSessionStores } from '../../src/redis/index.js';
import { startRedisCluster, type RunningRedisCluster } from '../../scripts/redis-cluster.js';
import { anonymousCookie, buildApp, https, idOf, loginWith, request, setCookie, type TestApp } from '../helpers.js';
import { slotOf, TAG_SECRET, uniqueSpreadPrefix } from './support.js';

let cluster: RunningRedisCluster;
let redisA: RedisClusterSessionStores;
let redisB: RedisClusterSessionStores;
/** What the factory's `onError` heard (a node's connection errors included). */
const connectionErrors: Error[] = [];

before(async () => {
  cluster = await startRedisCluster();
  const options = { rootUrls: cluster.urls, tagSecret: TAG_SECRET, prefix: uniqueSpreadPrefix('primary-down'), reconnectMaxDelay: 100, onError: (error: Error) => connectionErrors.push(error) };
  redisA = createRedisClusterSessionStores(options);
  redisB = createRedisClusterSessionStores(options);
  await Promise.all([redisA.ready, redisB.ready]);
});

after(async () => {
  await Promise.all([redisA?.close(), redisB?.close()]);
  await cluster?.stop();
});

interface Client {
  cookie: string;
  /** The user it is logged in as, or null (anonymous, counting visits). */
  user: string | null;
  onDownNode: boolean;
}

async function eventually(check: () => Promise<boolean>, withinMs: number, what: string): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > withinMs) throw new Error(`not within ${withinMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('Redis Cluster: a primary killed mid-traffic', () => {
  it('answers 503 for the sessions in its slots while it is down, serves the rest, and recovers by itself', async () => {
    const clock = new ManualClock();
    const apps: TestApp[] = [buildApp({ store: redisA.store, index: redisA.index, clock }), buildApp({ store: redisB.store, index: redisB.index, clock })];
    const victim = cluster.nodes[0]!;
    const ownerOf = (id: string) => {
      const shard = redisA.client.slots[slotOf(redisA.store.keys.session(id))];
      return shard?.master.port;
    };

    const clients: Client[] = [];
    for (let i = 0; i < 24; i++) {
      const app = apps[i % 2]!.app;
      const anon = await anonymousCookie(app);
      if (i % 3 === 0) {
        clients.push({ cookie: anon, user: null, onDownNode: ownerOf(idOf(anon)) === victim.port });
      } else {
        const user = `down-user-${i}`;
        // Setup on a busy machine: a login slower than the store deadline answers 503; retry it.
        let res = await loginWith(app, anon, user);
        for (let retry = 0; res.status === 503 && retry < 3; retry++) res = await loginWith(app, await anonymousCookie(app), user);
        assert.equal(res.status, 200);
        const cookie = setCookie(res) as string;
        clients.push({ cookie, user, onDownNode: ownerOf(idOf(cookie)) === victim.port });
      }
    }
    assert.ok(clients.some((c) => c.onDownNode) && clients.some((c) => !c.onDownNode), 'sessions on the victim and elsewhere');

    /** One request per client, on alternating instances: its status, and whom it was answered as. */
    async function probe(client: Client, i: number): Promise<{ status: number; as: string | null; code?: string }> {
      const app = apps[i % 2]!.app;
      if (client.user === null) {
        const res = await https(request(app).get('/session-data')).set('Cookie', client.cookie);
        return { status: res.status, as: null, code: res.body?.error?.code };
      }
      const res = await https(request(app).get('/me')).set('Cookie', client.cookie);
      return { status: res.status, as: res.body?.user ?? null, code: res.body?.error?.code };
    }

    const seen: { client: Client; status: number; as: string | null; code?: string | undefined; phase: string }[] = [];
    let phase = 'before';
    let running = true;
    const traffic = (async () => {
      let round = 0;
      while (running) {
        const results = await Promise.all(clients.map((client, i) => probe(client, i + round)));
        for (const [i, result] of results.entries()) seen.push({ client: clients[i]!, phase, ...result });
        round++;
      }
    })();

    await new Promise((resolve) => setTimeout(resolve, 200));
    phase = 'down';
    await victim.stop();
    await eventually(async () => (await probe(clients.find((c) => c.onDownNode)!, 0)).status === 503, 5_000, 'a session on the dead primary answers 503');
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    phase = 'restarting';
    await victim.restart();
    await eventually(async () => {
      const results = await Promise.all(clients.map((c, i) => probe(c, i)));
      return results.every((r) => r.status === 200);
    }, 15_000, 'every session serves again');
    phase = 'after';
    await new Promise((resolve) => setTimeout(resolve, 200));
    running = false;
    await traffic;

    for (const s of seen) {
      assert.ok(s.status === 200 || s.status === 503, `only 200 or 503, got ${s.status} (${s.code}) in phase ${s.phase}`);
      if (s.status === 503) assert.equal(s.code, 'SESSION_STORE_UNAVAILABLE');
      if (s.status === 200) assert.equal(s.as, s.client.user, 'a 200 names its own user');
    }
    const down = seen.filter((s) => s.phase === 'down');
    assert.ok(down.some((s) => s.client.onDownNode && s.status === 503), 'sessions on the dead primary got 503s');
    const healthyDuringOutage = down.filter((s) => !s.client.onDownNode);
    const healthyOk = healthyDuringOutage.filter((s) => s.status === 200).length;
    assert.ok(healthyOk / healthyDuringOutage.length > 0.9, `the other shards kept serving: ${healthyOk}/${healthyDuringOutage.length}`);
    for (const s of seen.filter((x) => x.phase === 'after')) assert.equal(s.status, 200);
    // The outage was told to `onError` (a node's connection errors are not swallowed).
    assert.ok(connectionErrors.length > 0, 'onError heard the dead primary');
  });
});
