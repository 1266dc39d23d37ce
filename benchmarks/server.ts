/**
 * The app under test, one variant per process (the runner forks it with `--import tsx`; the
 * library itself is the built dist/, see lib/library.ts).
 *
 * The variant comes from the BENCH_VARIANT environment variable (JSON, see `ServerVariant`).
 * The server listens on 127.0.0.1:0 and reports `{ type: 'ready', port }` over IPC. Between a
 * `start` and a `stop` message it counts requests and measures its own CPU time
 * (process.cpuUsage: user + system, every thread of the process, GC included), so the CPU
 * cost per request is measured where it is spent, not guessed from the client's side.
 *
 * Routes, identical in both implementations:
 * - `GET /me`      authenticated read (the hot path): 401 unless logged in.
 * - `GET /visit`   writes to the session (creates one on a first visit).
 * - `POST /login`  JSON {username, password}; plain: `regenerate()` + manual copy + save;
 *                  guard: `req.login()` with the variant's strategy.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { PerformanceObserver, constants as perfConstants, type PerformanceEntry } from 'node:perf_hooks';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Store } from 'express-session';
import { RedisStore } from 'connect-redis';
import { createClient } from 'redis';
import type { RotationStrategy } from '../src/index.js';
import { core, redisStores } from './lib/library.js';
import { plainSession } from './lib/plain.js';
import type { ServerVariant, ServerMessage, RunnerMessage, CpuSample } from './lib/protocol.js';

const { guarded, requireAuth, sessionGuard } = core;
const { createRedisSessionStores } = redisStores;

declare module 'express-session' {
  interface SessionData {
    visits?: number;
    user?: unknown;
  }
}

const SECRET = process.env.BENCH_SECRET ?? randomBytes(32).toString('base64url');
const USERS: Record<string, string> = { alice: 'alice-password', bob: 'bob-password' };

function checkPassword(username: unknown, password: unknown): username is string {
  if (typeof username !== 'string' || typeof password !== 'string') return false;
  // user0…user9999999 exist too, so that each login of the login scenario can be a different user.
  const expected =
    USERS[username] ?? (/^user\d{1,7}$/.test(username) ? `${username}-password` : undefined);
  if (expected === undefined) return false;
  const a = Buffer.from(password);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function send(message: ServerMessage): void {
  process.send?.(message);
}

const variant = JSON.parse(process.env.BENCH_VARIANT ?? '{}') as ServerVariant;
const cleanups: Array<() => Promise<void>> = [];

let requests = 0;
let cpuAtStart: NodeJS.CpuUsage | undefined;
let wallAtStart = 0n;
/** Time in garbage collection (pauses of the main thread), ms: young and full collections apart. */
const gcMs = { young: 0, full: 0 };
function countGc(entries: PerformanceEntry[]): void {
  for (const entry of entries) {
    const kind = (entry as PerformanceEntry & { detail?: { kind?: number } | null }).detail?.kind;
    if (kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) gcMs.young += entry.duration;
    else gcMs.full += entry.duration;
  }
}
const gcObserver = new PerformanceObserver((list) => countGc(list.getEntries()));
gcObserver.observe({ entryTypes: ['gc'] });

const app = express();
app.disable('x-powered-by');
app.disable('etag');
app.use(function countRequests(_req, _res, next) {
  requests++;
  next();
});
const json = express.json({ limit: '10kb' });

async function plainApp(): Promise<void> {
  let store: Store | undefined;
  if (variant.store === 'redis') {
    const client = createClient({ url: variant.redisUrl });
    client.on('error', () => undefined);
    await client.connect();
    cleanups.push(async () => void (await client.close()));
    store = new RedisStore({ client, prefix: `${variant.prefix ?? 'bench:{plain}:'}sess:` });
  }
  app.use(plainSession(SECRET, store));
  app.get('/me', (req, res) => {
    if (!req.session.user) {
      res.status(401).json({ error: { code: 'UNAUTHENTICATED' } });
      return;
    }
    res.json({ user: req.session.user, visits: req.session.visits ?? 0 });
  });
  app.post('/login', json, (req, res, next) => {
    const { username, password } = (req.body ?? {}) as { username?: unknown; password?: unknown };
    if (!checkPassword(username, password)) {
      res.status(401).json({ error: { code: 'BAD_CREDENTIALS' } });
      return;
    }
    // What a careful app does without the guard: regenerate (which throws every key away),
    // copy back what should survive, authenticate, save before answering.
    const { cookie: _cookie, ...carried } = req.session;
    req.session.regenerate((err) => {
      if (err) return next(err);
      Object.assign(req.session, carried);
      req.session.user = username;
      req.session.save((saveErr) => {
        if (saveErr) return next(saveErr);
        res.json({ user: username });
      });
    });
  });
}

async function guardApp(): Promise<void> {
  const strategy: RotationStrategy = variant.strategy ?? 'changeSessionId';
  let stores: { store: Store; index: Parameters<typeof sessionGuard>[0]['index'] } | undefined;
  if (variant.store === 'redis') {
    const redis = createRedisSessionStores({
      url: variant.redisUrl,
      prefix: variant.prefix ?? 'bench:{guard}:',
    });
    await redis.ready;
    cleanups.push(() => redis.close());
    if (variant.atomicRename === false) {
      // Hide the atomic RENAME script: the guard then falls back to the plain Store contract
      // (write the new record, then tombstone the old id: separate round trips).
      Object.defineProperty(redis.store, 'rename', { value: undefined });
    }
    stores = { store: redis.store, index: redis.index };
  }
  // The guard's clock, moved on after each login when the variant ages its sessions.
  let clockSkewMs = 0;
  const clock = { now: () => Date.now() + clockSkewMs };
  const guard = sessionGuard({
    secret: SECRET,
    clock,
    plainHttpDevelopment: true,
    strategy,
    env: 'development',
    // No audit sink, as plain express-session logs nothing (outside production the default
    // sink prints every event: a console line per first visit or login would be measured).
    audit: [],
    ...(stores ?? {}),
  });
  app.use(guard);
  app.get('/me', requireAuth(), (req, res) => {
    res.json({ user: req.sessionGuard?.principal, visits: req.session.visits ?? 0 });
  });
  app.post('/login', json, async (req, res, next) => {
    try {
      const { username, password } = (req.body ?? {}) as { username?: unknown; password?: unknown };
      if (!checkPassword(username, password)) {
        res.status(401).json({ error: { code: 'BAD_CREDENTIALS' } });
        return;
      }
      await guarded(req).login(username);
      if (variant.sessionAgeMs) clockSkewMs += variant.sessionAgeMs;
      res.json({ user: username });
    } catch (err) {
      next(err);
    }
  });
}

if (variant.impl === 'guard') await guardApp();
else await plainApp();

app.get('/visit', (req, res) => {
  req.session.visits = (req.session.visits ?? 0) + 1;
  res.json({ visits: req.session.visits });
});

app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
  const status =
    typeof (err as { status?: unknown }).status === 'number'
      ? (err as { status: number }).status
      : 500;
  res.status(status).json({ error: { message: (err as Error).message } });
});

const server = app.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  send({ type: 'ready', port });
});
server.keepAliveTimeout = 60_000;

process.on('message', (raw: RunnerMessage) => {
  if (raw.type === 'start') {
    requests = 0;
    // GC entries arrive a turn late: what is pending belongs to before the start.
    gcObserver.takeRecords();
    gcMs.young = 0;
    gcMs.full = 0;
    wallAtStart = process.hrtime.bigint();
    cpuAtStart = process.cpuUsage();
    send({ type: 'started' });
  } else if (raw.type === 'stop') {
    const cpu = process.cpuUsage(cpuAtStart);
    const wallUs = Number(process.hrtime.bigint() - wallAtStart) / 1000;
    countGc(gcObserver.takeRecords());
    const memory = process.memoryUsage();
    const sample: CpuSample = {
      requests,
      userUs: cpu.user,
      systemUs: cpu.system,
      wallUs,
      cpuUsPerRequest: requests > 0 ? (cpu.user + cpu.system) / requests : 0,
      rssBytes: memory.rss,
      gcYoungMs: gcMs.young,
      gcFullMs: gcMs.full,
      heapUsedBytes: memory.heapUsed,
    };
    send({ type: 'stopped', sample });
  } else if (raw.type === 'exit') {
    server.closeAllConnections();
    server.close();
    void Promise.allSettled(cleanups.map((c) => c())).then(() => {
      // A normal exit, so that `--cpu-prof` writes its profile.
      process.exit(0);
    });
  }
});
process.on('disconnect', () => process.exit(0));
