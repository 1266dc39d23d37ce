/**
 * Growth on Redis: the index operations of one user as that user's sessions go 1 → 10 → 1,000
 * and every other user's sessions (filler) take the total from 10k to 1M.
 *
 * Filler is bulk-loaded by a Lua script in batches (session records as the guard writes them
 * plus index entries in the documented key layout, see src/redis/keys.ts), so a million
 * sessions load in seconds. The measured user's sessions are loaded the same way.
 *
 * Measured, in-process against the real RedisSessionStore / RedisSessionIndex and the guard's
 * own admin API:
 * - login check: `index.admit(user, newEntry, { max: n, onLimit: 'evictOldest' })` at the limit
 *   (the max-sessions check `req.login` runs; it evicts the oldest) plus the tombstone of the
 *   evicted session, as `req.login` does;
 * - list: `guard.listSessions(user)` ("your devices": index list + a live check per session);
 * - revoke-all: `guard.revokeSessions(user)` (what `req.logoutEverywhere()` and an admin use).
 */
import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { core, redisStores } from '../lib/library.js';
import { linearFit, median, round } from '../lib/stats.js';

const { sessionGuard } = core;
const { createRedisSessionStores } = redisStores;

export interface GrowthSettings {
  redisUrl: string;
  totals: number[];
  perUser: number[];
  /** Repetitions of the cheap operations (admit, list). */
  reps: number;
  /** Repetitions of revoke-all (each needs the user's sessions loaded again). */
  revokeReps: number;
  log: (line: string) => void;
}

export interface GrowthPoint {
  totalSessions: number;
  sessionsPerUser: number;
  dbsize: number;
  loginCheckMs: number;
  listMs: number;
  revokeAllMs: number;
}

export interface GrowthResult {
  points: GrowthPoint[];
  /** Per operation: ms per additional session of the user (slope over sessionsPerUser, at the largest total). */
  perUserSlopeMs: Record<'loginCheckMs' | 'listMs' | 'revokeAllMs', { slopeMsPerSession: number; r2: number }>;
  /** Per operation and sessionsPerUser: time at the largest total / time at the smallest total. */
  otherUsersRatio: Array<{ sessionsPerUser: number; loginCheck: number; list: number; revokeAll: number }>;
  fillerLoadSeconds: number;
}

const PREFIX = 'bench:{growth}:';
const TTL_MS = 4 * 3_600_000;
const FILLER_PER_USER = 10;
const LOAD_BATCH = 50_000;

// KEYS: none (standalone Redis; the bench owns the server). ARGV: prefix, first, count,
// perUser, userPrefix, idPrefix, recordJSON (with __PRINCIPAL__), ttlMs, nowMs.
// Writes `count` sessions: record + zset member + meta entry ("c:l:a:l:{}", state live).
const BULK_LOAD = String.raw`
local prefix, first, count, per = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local user_prefix, id_prefix, template, ttl, now = ARGV[5], ARGV[6], ARGV[7], tonumber(ARGV[8]), ARGV[9]
for i = first, first + count - 1 do
  local user = user_prefix .. math.floor(i / per)
  local id = id_prefix .. string.format('%032d', i)
  local record = string.gsub(template, '__PRINCIPAL__', user)
  redis.call('SET', prefix .. 'sess:' .. id, record, 'PX', ttl)
  redis.call('ZADD', prefix .. 'idx:' .. user, now, id)
  redis.call('HSET', prefix .. 'meta:' .. user, id, now .. ':' .. now .. ':' .. now .. '000' .. string.format('%06d', i % 1000000) .. ':l:{}')
  redis.call('PEXPIRE', prefix .. 'idx:' .. user, ttl)
  redis.call('PEXPIRE', prefix .. 'meta:' .. user, ttl)
end
return count
`;

function recordTemplate(now: number): string {
  return JSON.stringify({
    cookie: { originalMaxAge: TTL_MS, expires: new Date(now + TTL_MS).toISOString(), httpOnly: true, path: '/', sameSite: 'lax' },
    visits: 1,
    fixationGuard: { v: 1, createdAt: now, lastSeenAt: now, rotatedAt: now, principal: '__PRINCIPAL__', boundTo: 'bulk-loaded-000', authAt: now },
  });
}

export async function runGrowth(settings: GrowthSettings): Promise<GrowthResult> {
  settings.log('▶ Growth (Redis): index operations vs sessions per user and total sessions');
  const admin = createClient({ url: settings.redisUrl });
  admin.on('error', () => undefined);
  await admin.connect();
  // The bench's own private server: start from an empty keyspace so that "total sessions" is
  // what is in Redis (the HTTP scenarios leave their sessions behind).
  await admin.flushAll();
  const redis = createRedisSessionStores({ url: settings.redisUrl, prefix: PREFIX });
  await redis.ready;
  const guard = sessionGuard({ secret: randomBytes(32).toString('base64url'), store: redis.store, index: redis.index, plainHttpDevelopment: true, env: 'development', audit: [] });
  const points: GrowthPoint[] = [];
  let filler = 0;
  let fillerLoadMs = 0;
  let userSeq = 0;

  async function bulk(first: number, count: number, perUser: number, userPrefix: string, idPrefix: string): Promise<void> {
    const now = Date.now();
    for (let at = first; at < first + count; at += LOAD_BATCH) {
      const n = Math.min(LOAD_BATCH, first + count - at);
      await admin.eval(BULK_LOAD, {
        keys: [],
        arguments: [PREFIX, String(at), String(n), String(perUser), userPrefix, idPrefix, recordTemplate(now), String(TTL_MS), String(now)],
      });
    }
  }

  /** Loads `n` sessions of a new user; returns the user. */
  async function loadUser(n: number): Promise<string> {
    const tag = `u${userSeq++}-`;
    await bulk(0, n, n, `measured-${tag}`, `m${tag}`);
    return `measured-${tag}0`;
  }

  async function time(fn: () => Promise<unknown>): Promise<number> {
    const started = performance.now();
    await fn();
    return performance.now() - started;
  }

  try {
    for (const total of settings.totals) {
      const t0 = performance.now();
      const want = total - filler;
      if (want > 0) await bulk(filler, want, FILLER_PER_USER, 'filler-', 'f');
      filler = Math.max(filler, total);
      fillerLoadMs += performance.now() - t0;
      const dbsize = await admin.dbSize();
      for (const n of settings.perUser) {
        const user = await loadUser(n);
        const login: number[] = [];
        for (let r = 0; r < settings.reps; r++) {
          const id = randomBytes(32).toString('base64url');
          // The login's own record (unmeasured: its cost does not depend on the index).
          const written = Date.now();
          await redis.store.set(id, JSON.parse(recordTemplate(written).replace('__PRINCIPAL__', user)) as never);
          login.push(
            await time(async () => {
              const now = Date.now();
              const entry = { sessionId: id, createdAt: now, lastSeenAt: now };
              const limit = { max: n, onLimit: 'evictOldest' } as const;
              await redis.index.admit(user, entry, limit, { phase: 'reserve' });
              const confirmed = await redis.index.admit(user, entry, limit, { phase: 'confirm' });
              for (const evicted of confirmed.evicted) await guard.store.endSession(evicted, 'evicted', user);
            }),
          );
        }
        const list: number[] = [];
        for (let r = 0; r < settings.reps; r++) {
          let seen = 0;
          list.push(await time(async () => void (seen = (await guard.listSessions(user)).length)));
          if (seen !== n) throw new Error(`listSessions(${user}) saw ${seen} sessions, expected ${n}`);
        }
        const revoke: number[] = [];
        let victim = user;
        for (let r = 0; r < settings.revokeReps; r++) {
          if (r > 0) victim = await loadUser(n);
          let ended = 0;
          revoke.push(await time(async () => void (ended = await guard.revokeSessions(victim))));
          if (ended !== n) throw new Error(`revokeSessions(${victim}) ended ${ended} sessions, expected ${n}`);
        }
        const point: GrowthPoint = {
          totalSessions: total,
          sessionsPerUser: n,
          dbsize,
          loginCheckMs: round(median(login), 3),
          listMs: round(median(list), 3),
          revokeAllMs: round(median(revoke), 3),
        };
        points.push(point);
        settings.log(`  total ${total.toLocaleString('en')} · ${n} per user: login check ${point.loginCheckMs} ms · list ${point.listMs} ms · revoke-all ${point.revokeAllMs} ms`);
      }
    }
  } finally {
    await redis.close();
    await admin.close();
  }

  const largest = Math.max(...settings.totals);
  const smallest = Math.min(...settings.totals);
  const atLargest = points.filter((p) => p.totalSessions === largest);
  const fit = (key: 'loginCheckMs' | 'listMs' | 'revokeAllMs') => {
    const f = linearFit(atLargest.map((p) => p.sessionsPerUser), atLargest.map((p) => p[key]));
    return { slopeMsPerSession: round(f.slope, 5), r2: round(f.r2, 4) };
  };
  const otherUsersRatio = settings.perUser.map((n) => {
    const lo = points.find((p) => p.totalSessions === smallest && p.sessionsPerUser === n);
    const hi = points.find((p) => p.totalSessions === largest && p.sessionsPerUser === n);
    const r = (k: 'loginCheckMs' | 'listMs' | 'revokeAllMs') => (lo && hi && lo[k] > 0 ? round(hi[k] / lo[k], 2) : Number.NaN);
    return { sessionsPerUser: n, loginCheck: r('loginCheckMs'), list: r('listMs'), revokeAll: r('revokeAllMs') };
  });
  return {
    points,
    perUserSlopeMs: { loginCheckMs: fit('loginCheckMs'), listMs: fit('listMs'), revokeAllMs: fit('revokeAllMs') },
    otherUsersRatio,
    fillerLoadSeconds: round(fillerLoadMs / 1000, 1),
  };
}
