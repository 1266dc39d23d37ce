/**
 * Isolation under load: 500 virtual users at once against two instances of examples/basic-login
 * (separate processes, LOAD_USERS principals), first on one Redis, then on the three-primary
 * Redis Cluster (REDIS_CLUSTER_URLS). Each user logs in as its own principal on one instance and
 * alternates between both; every answer must name only itself — zero cross-talk — and no 5xx
 * but the documented 503. `LOAD_FULL=1` runs 20 rounds per user instead of 1.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { startRedisServer, type RunningRedis } from '../../scripts/redis-server.js';
import type { ExampleProcess } from '../support/example-process.js';
import type { VirtualUser } from '../support/virtual-user.js';
import { assertIsolated, FULL, loginWithRetry, startFleet, statusCounts, users } from './support.js';

const ROUNDS = FULL ? 20 : 1;
const stoppers: (() => Promise<void>)[] = [];

after(async () => {
  await Promise.all(stoppers.map((stop) => stop()));
});

/** One user's visit: anonymous page, login, then ROUNDS rounds of /me and a write, alternating instances. */
async function browse(vu: VirtualUser, fleet: readonly ExampleProcess[], i: number): Promise<void> {
  const at = (k: number) => (fleet[(i + k) % fleet.length] as ExampleProcess).url;
  await vu.request(at(0), 'GET', '/');
  assert.ok(await loginWithRetry(vu, at(1)), `${vu.username} could not log in: ${JSON.stringify(vu.answers.at(-1))}`);
  for (let round = 0; round < ROUNDS; round++) {
    const me = await vu.request(at(round), 'GET', '/me');
    if (me.status !== 503) assert.equal(me.status, 200, `${vu.username}: /me answered ${me.status} ${JSON.stringify(me.body)}`);
    await vu.request(at(round + 1), 'GET', '/');
  }
}

async function runLoad(fleet: readonly ExampleProcess[], label: string): Promise<void> {
  const vus = users();
  const started = Date.now();
  await Promise.all(vus.map((vu, i) => browse(vu, fleet, i)));
  const elapsed = Date.now() - started;
  assertIsolated(vus, label);
  const counts = statusCounts(vus);
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  // Every answer named its own user, and every user ended up logged in as itself.
  for (const vu of vus) {
    const lastMe = vu.answers.filter((a) => a.path === '/me' && a.status === 200).at(-1);
    assert.equal(lastMe?.body?.user, vu.username);
  }
  console.log(`${label}: ${vus.length} virtual users, ${total} requests in ${elapsed} ms, statuses ${JSON.stringify(counts)}`);
}

describe('isolation under load: 500 virtual users, two instances', () => {
  it('on one Redis: every answer names only its own user, and nothing but 200 (or a documented 503)', async () => {
    const redis: RunningRedis = await startRedisServer();
    stoppers.push(() => redis.stop());
    const fleet = await startFleet({ REDIS_URL: redis.url });
    stoppers.push(...fleet.map((p) => () => p.stop()));
    await runLoad(fleet, 'one Redis');
  });

  it('on the Redis Cluster (sessions spread over three primaries): the same', async () => {
    const urls = process.env.REDIS_CLUSTER_URLS;
    assert.ok(urls, 'REDIS_CLUSTER_URLS is set by scripts/run-tests.ts');
    const fleet = await startFleet({ REDIS_CLUSTER_URLS: urls });
    stoppers.push(...fleet.map((p) => () => p.stop()));
    await runLoad(fleet, 'Redis Cluster');
  });
});
