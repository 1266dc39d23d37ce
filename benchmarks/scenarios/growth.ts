/**
 * Growth on Redis: the index operations of one user as that user's sessions go 1 → 10 → 1,000
 * and every other user's sessions (filler) take the total from 10k to 1M.
 *
 * Each total lives in its own database of the one Redis server (10k in database 0, 100k in 1,
 * 1M in 2), all loaded before anything is measured, and the repetitions are interleaved: each
 * visits every total in turn. A slow moment of the machine then falls on every total alike; the
 * ratio between totals is what the target reads. Filler is bulk-loaded by a Lua script in
 * batches (session records as the guard writes them plus index entries in the documented key
 * layout, see src/redis/keys.ts), so a million sessions load in seconds. The measured user's
 * sessions are loaded the same way.
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

/** One total of sessions: its own Redis database of the one server, with its own guard. */
interface Deployment {
  total: number;
  admin: ReturnType<typeof createClient>;
  redis: ReturnType<typeof createRedisSessionStores>;
  guard: ReturnType<typeof sessionGuard>;
  dbsize: number;
}

/**
 * `reps` repetitions of `measure`, interleaved: each repetition visits every deployment in turn,
 * in rotated order (none is always first), so that a slow moment of the machine falls on every
 * total alike instead of on one of them. Returns each deployment's times.
 */
async function interleaved(deployments: Deployment[], reps: number, measure: (d: Deployment, r: number) => Promise<number>): Promise<Map<Deployment, number[]>> {
  const times = new Map(deployments.map((d) => [d, [] as number[]]));
  for (let r = 0; r < reps; r++) {
    const at = r % deployments.length;
    for (const d of [...deployments.slice(at), ...deployments.slice(0, at)]) times.get(d)!.push(await measure(d, r));
  }
  return times;
}

export async function runGrowth(settings: GrowthSettings): Promise<GrowthResult> {
  settings.log('▶ Growth (Redis): index operations vs sessions per user and total sessions');
  const totals = [...settings.totals].sort((a, b) => a - b);
  const deployments: Deployment[] = [];
  let fillerLoadMs = 0;
  let userSeq = 0;

  async function bulk(d: Deployment, first: number, count: number, perUser: number, userPrefix: string, idPrefix: string): Promise<void> {
    const now = Date.now();
    for (let at = first; at < first + count; at += LOAD_BATCH) {
      const n = Math.min(LOAD_BATCH, first + count - at);
      await d.admin.eval(BULK_LOAD, {
        keys: [],
        arguments: [PREFIX, String(at), String(n), String(perUser), userPrefix, idPrefix, recordTemplate(now), String(TTL_MS), String(now)],
      });
    }
  }

  /** Loads `n` sessions of a new user; returns the user. */
  async function loadUser(d: Deployment, n: number): Promise<string> {
    const tag = `u${userSeq++}-`;
    await bulk(d, 0, n, n, `measured-${tag}`, `m${tag}`);
    return `measured-${tag}0`;
  }

  async function time(fn: () => Promise<unknown>): Promise<number> {
    const started = performance.now();
    await fn();
    return performance.now() - started;
  }

  async function loginCheck(d: Deployment, user: string, n: number): Promise<number> {
    const id = randomBytes(32).toString('base64url');
    // The login's own record (unmeasured: its cost does not depend on the index).
    await d.redis.store.set(id, JSON.parse(recordTemplate(Date.now()).replace('__PRINCIPAL__', user)) as never);
    return time(async () => {
      const now = Date.now();
      const entry = { sessionId: id, createdAt: now, lastSeenAt: now };
      const limit = { max: n, onLimit: 'evictOldest' } as const;
      await d.redis.index.admit(user, entry, limit, { phase: 'reserve' });
      const confirmed = await d.redis.index.admit(user, entry, limit, { phase: 'confirm' });
      for (const evicted of confirmed.evicted) await d.guard.store.endSession(evicted, 'evicted', user);
    });
  }

  async function list(d: Deployment, user: string, n: number): Promise<number> {
    let seen = 0;
    const ms = await time(async () => void (seen = (await d.guard.listSessions(user)).length));
    if (seen !== n) throw new Error(`listSessions(${user}) saw ${seen} sessions, expected ${n}`);
    return ms;
  }

  async function revokeAll(d: Deployment, user: string, n: number): Promise<number> {
    let ended = 0;
    const ms = await time(async () => void (ended = await d.guard.revokeSessions(user)));
    if (ended !== n) throw new Error(`revokeSessions(${user}) ended ${ended} sessions, expected ${n}`);
    return ms;
  }

  const points: GrowthPoint[] = [];
  try {
    for (const [db, total] of totals.entries()) {
      const url = `${settings.redisUrl}/${db}`;
      const admin = createClient({ url });
      admin.on('error', () => undefined);
      await admin.connect();
      // The bench's own private server: start from an empty keyspace so that "total sessions" is
      // what is in Redis (the HTTP scenarios leave their sessions behind in database 0).
      if (db === 0) await admin.flushAll();
      const redis = createRedisSessionStores({ url, prefix: PREFIX });
      await redis.ready;
      const guard = sessionGuard({ secret: randomBytes(32).toString('base64url'), store: redis.store, index: redis.index, plainHttpDevelopment: true, env: 'development', audit: [] });
      const d: Deployment = { total, admin, redis, guard, dbsize: 0 };
      deployments.push(d);
      const t0 = performance.now();
      await bulk(d, 0, total, FILLER_PER_USER, 'filler-', 'f');
      fillerLoadMs += performance.now() - t0;
      d.dbsize = await admin.dbSize();
    }
    // Warm-up, unmeasured: every operation runs a few times on every database first, so that no
    // total is measured while the process is still compiling the code paths.
    for (const d of deployments) {
      const user = await loadUser(d, 10);
      for (let r = 0; r < 3; r++) {
        await loginCheck(d, user, 10);
        await list(d, user, 10);
      }
      await revokeAll(d, user, 10);
    }
    for (const n of settings.perUser) {
      const users = new Map<Deployment, string>();
      for (const d of deployments) users.set(d, await loadUser(d, n));
      const login = await interleaved(deployments, settings.reps, (d) => loginCheck(d, users.get(d)!, n));
      const listed = await interleaved(deployments, settings.reps, (d) => list(d, users.get(d)!, n));
      // Each revoke-all but the first needs the user's sessions loaded again (not measured).
      const revoked = await interleaved(deployments, settings.revokeReps, async (d, r) => revokeAll(d, r === 0 ? users.get(d)! : await loadUser(d, n), n));
      for (const d of deployments) {
        const point: GrowthPoint = {
          totalSessions: d.total,
          sessionsPerUser: n,
          dbsize: d.dbsize,
          loginCheckMs: round(median(login.get(d)!), 3),
          listMs: round(median(listed.get(d)!), 3),
          revokeAllMs: round(median(revoked.get(d)!), 3),
        };
        points.push(point);
        settings.log(`  total ${d.total.toLocaleString('en')} · ${n} per user: login check ${point.loginCheckMs} ms · list ${point.listMs} ms · revoke-all ${point.revokeAllMs} ms`);
      }
    }
  } finally {
    for (const d of deployments) {
      await d.redis.close();
      await d.admin.close();
    }
  }
  points.sort((a, b) => a.totalSessions - b.totalSessions || a.sessionsPerUser - b.sessionsPerUser);

  const largest = totals[totals.length - 1]!;
  const smallest = totals[0]!;
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
