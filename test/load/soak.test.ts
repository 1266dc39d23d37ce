/**
 * A bounded soak: a steady population of logged-in virtual users keeps reading and writing
 * their sessions through two examples/basic-login processes on one Redis, while the test
 * samples each process's resident memory and Redis's key count. Nothing new should accumulate:
 * the key count stays exactly flat once everyone is logged in, and memory shows no trend.
 * 15 s in `npm test`; `SOAK=1` runs 10 minutes (`SOAK_MINUTES` to change it).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createClient } from 'redis';
import { startRedisServer } from '../../scripts/redis-server.js';
import type { ExampleProcess } from '../support/example-process.js';
import { assertIsolated, loginWithRetry, startFleet, statusCounts, users } from './support.js';

const LONG = process.env.SOAK === '1';
const DURATION_MS = LONG ? Number(process.env.SOAK_MINUTES ?? 10) * 60_000 : 15_000;
const SAMPLE_MS = LONG ? 10_000 : 1_000;
const VUS = 100;

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

describe('soak', () => {
  it(`keeps Redis key counts flat and memory without trend over ${DURATION_MS / 1000} s of steady traffic`, async () => {
    const redis = await startRedisServer();
    cleanups.push(() => redis.stop());
    const fleet = await startFleet({ REDIS_URL: redis.url });
    cleanups.push(...fleet.map((p) => () => p.stop()));
    const client = createClient({ url: redis.url });
    client.on('error', () => {});
    await client.connect();
    cleanups.push(() => client.close());

    const vus = users(VUS);
    const url = (i: number) => (fleet[i % fleet.length] as ExampleProcess).url;
    await Promise.all(vus.map(async (vu, i) => {
      await vu.request(url(i), 'GET', '/');
      assert.ok(await loginWithRetry(vu, url(i + 1)));
    }));

    let running = true;
    const traffic = Promise.all(vus.map(async (vu, i) => {
      for (let k = 0; running; k++) {
        await vu.request(url(i + k), 'GET', k % 2 ? '/me' : '/');
        await sleep(50);
      }
    }));

    const samples: { at: number; keys: number; rss: number[] }[] = [];
    const started = Date.now();
    while (Date.now() - started < DURATION_MS) {
      samples.push({ at: Date.now() - started, keys: await client.dbSize(), rss: fleet.map((p) => p.rssBytes() ?? 0) });
      await sleep(SAMPLE_MS);
    }
    running = false;
    await traffic;

    assertIsolated(vus, 'soak');
    const counts = statusCounts(vus);
    const mb = (b: number) => Math.round(b / 1024 / 1024);
    console.log(
      `soak ${DURATION_MS / 1000} s, ${VUS} users, statuses ${JSON.stringify(counts)}\n` +
        samples.map((s) => `  t=${(s.at / 1000).toFixed(0)}s keys=${s.keys} rss=${s.rss.map(mb).join('/')} MB`).join('\n'),
    );
    assert.deepEqual(Object.keys(counts), ['200'], 'a calm soak answers only 200');

    const keyCounts = new Set(samples.map((s) => s.keys));
    assert.equal(keyCounts.size, 1, `Redis key count changed during the soak: ${[...keyCounts].join(', ')}`);
    // Memory: past the first fifth (JIT and pools warming up), the last third shows no growth
    // beyond noise compared with the first third.
    const steady = samples.slice(Math.ceil(samples.length / 5));
    const third = Math.max(1, Math.floor(steady.length / 3));
    for (const [p] of fleet.entries()) {
      const early = median(steady.slice(0, third).map((s) => s.rss[p] as number));
      const late = median(steady.slice(-third).map((s) => s.rss[p] as number));
      assert.ok(late <= early * 1.2 + 16 * 1024 * 1024, `instance ${p}: RSS grew from ${mb(early)} MB to ${mb(late)} MB`);
    }
  });
});
