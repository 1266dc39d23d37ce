/**
 * Where 10,000 sessions land on a three-primary Redis Cluster, per key layout: `npm run
 * bench:cluster`. Starts its own cluster (scripts/redis-cluster.ts), writes the sessions
 * through the real RedisSessionStore / RedisSessionIndex the way a login does (a pre-login
 * record, a reservation, the move to the authenticated id, the confirmation), then counts each
 * primary's keys by kind. Writes benchmarks/results/cluster-distribution.md and prints it.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { createRedisClusterSessionStores, type KeyLayoutKind, type RedisClusterSessionStores } from '../src/redis/index.js';
import { startRedisCluster } from '../scripts/redis-cluster.js';

const SESSIONS = Number(process.env.SESSIONS ?? 10_000);
const USERS = Number(process.env.USERS ?? 2_500);
const TTL_MS = 600_000;

function record(extra: Record<string, unknown> = {}): any {
  return { cookie: { originalMaxAge: TTL_MS, expires: new Date(Date.now() + TTL_MS).toISOString(), httpOnly: true, path: '/' }, ...extra };
}

async function fill(redis: RedisClusterSessionStores): Promise<void> {
  const { store, index } = redis;
  let next = 0;
  const worker = async () => {
    while (next < SESSIONS) {
      const i = next++;
      const principal = `user${i % USERS}`;
      const anon = randomBytes(32).toString('base64url');
      await store.guardedSet(anon, record({ visits: 1 }));
      const id = store.sessionIdFor(principal, randomBytes(32).toString('base64url'));
      const entry = { sessionId: id, createdAt: i, lastSeenAt: i };
      await index.admit(principal, entry, undefined, { phase: 'reserve' });
      await store.rename(anon, id, record({ visits: 1, fixationGuard: { principal } }), Date.now(), TTL_MS);
      await index.admit(principal, entry, undefined, { phase: 'confirm' });
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
}

interface ShardCount {
  node: string;
  slots: number;
  sessions: number;
  tombstones: number;
  indexKeys: number;
  total: number;
}

async function count(redis: RedisClusterSessionStores, prefix: string): Promise<ShardCount[]> {
  const rows: ShardCount[] = [];
  const slotsPerNode = new Map<string, number>();
  for (const shard of redis.client.slots) {
    const key = `${shard.master.host}:${shard.master.port}`;
    slotsPerNode.set(key, (slotsPerNode.get(key) ?? 0) + 1);
  }
  for (const master of redis.client.masters) {
    const client = await redis.client.nodeClient(master);
    const row: ShardCount = { node: `${master.host}:${master.port}`, slots: slotsPerNode.get(`${master.host}:${master.port}`) ?? 0, sessions: 0, tombstones: 0, indexKeys: 0, total: 0 };
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
      for (const key of keys) {
        row.total++;
        if (!key.startsWith(`${prefix}sess:`)) {
          row.indexKeys++;
          continue;
        }
        const value = await client.get(key);
        if (value?.includes('"fixationGuardTombstone"')) row.tombstones++;
        else row.sessions++;
      }
    }
    rows.push(row);
  }
  return rows;
}

function table(layout: KeyLayoutKind, rows: ShardCount[]): string {
  const sum = (k: keyof ShardCount) => rows.reduce((a, r) => a + (r[k] as number), 0);
  const pct = (n: number, of: number) => (of === 0 ? '0%' : `${((100 * n) / of).toFixed(1)}%`);
  const lines = [
    `| primary | slots | authenticated sessions | pre-login tombstones | index keys | all keys | share of keys |`,
    `| --- | ---: | ---: | ---: | ---: | ---: | ---: |`,
    ...rows.map((r, i) => `| ${String.fromCharCode(65 + i)} | ${r.slots} | ${r.sessions} | ${r.tombstones} | ${r.indexKeys} | ${r.total} | ${pct(r.total, sum('total'))} |`),
    `| **all** | ${sum('slots')} | ${sum('sessions')} | ${sum('tombstones')} | ${sum('indexKeys')} | ${sum('total')} | 100% |`,
  ];
  return `Key layout \`${layout}\`:\n\n${lines.join('\n')}\n`;
}

const loadAtStart = loadavg().map((x) => x.toFixed(2)).join(' / ');
const cluster = await startRedisCluster();
try {
  const sections: string[] = [];
  for (const layout of ['spread', 'deployment'] as const) {
    const prefix = layout === 'spread' ? `bench-${layout}:` : `bench-${layout}:{bench}:`;
    const redis = createRedisClusterSessionStores({ rootUrls: cluster.urls, tagSecret: randomBytes(32).toString('base64url'), prefix, keyLayout: layout });
    await redis.ready;
    const started = Date.now();
    await fill(redis);
    const elapsed = Date.now() - started;
    sections.push(`${table(layout, await count(redis, prefix))}\n(${SESSIONS.toLocaleString('en')} logins of ${USERS.toLocaleString('en')} users written in ${(elapsed / 1000).toFixed(1)} s.)\n`);
    await redis.close();
  }
  const report =
    `### Redis Cluster: where 10,000 sessions land\n\n` +
    `${SESSIONS.toLocaleString('en')} logins (${USERS.toLocaleString('en')} users, ${SESSIONS / USERS} sessions each), each written as the guard writes it: ` +
    `a pre-login record, the reservation, the move to the authenticated id (its tombstone stays behind), the confirmation. ` +
    `Three primaries, no replicas, started by \`scripts/redis-cluster.ts\`; keys counted per primary with SCAN. ` +
    `Load average at start ${loadAtStart}, at end ${loadavg().map((x) => x.toFixed(2)).join(' / ')} (the write times are not a throughput measurement).\n\n` +
    sections.join('\n');
  mkdirSync('benchmarks/results', { recursive: true });
  writeFileSync('benchmarks/results/cluster-distribution.md', report);
  console.log(report);
} finally {
  await cluster.stop();
}
