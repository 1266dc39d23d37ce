/**
 * Heap per session, in its own process (`node --expose-gc --import tsx benchmarks/memory-worker.ts <kind> <count>`),
 * against the built package (dist/, through lib/library.ts) like the servers.
 *
 * The record templates come from a real request: the worker serves the variant's app on
 * 127.0.0.1:0, visits and logs in once, and copies what the store then holds. It then writes
 * `count` sessions through the store API the way each implementation writes them at login:
 *
 * - `plain`: express-session's MemoryStore.set of the authenticated record;
 * - `guard`: through the GuardedStore (binding hash, tombstone check) plus the entry in the
 *   MemorySessionIndex that `req.login` admits;
 * - `guard-tombstones`: the same plus the tombstone that login leaves under the pre-login id
 *   (it lives `tombstoneTtl`, by default the absolute timeout, 4 h).
 *
 * Heap used after a full GC, before and after, divided by `count`. Prints one JSON line.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import express from 'express';
import session from 'express-session';
import { core } from './lib/library.js';
import { cookieFrom } from './lib/load.js';
import { plainSession } from './lib/plain.js';

const { MemorySessionIndex, sessionGuard, guarded } = core;

declare module 'express-session' {
  interface SessionData {
    visits?: number;
    user?: unknown;
  }
}

type Kind = 'plain' | 'guard' | 'guard-tombstones';
const kind = (process.argv[2] ?? 'plain') as Kind;
const count = Number(process.argv[3] ?? 100_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const SECRET = randomBytes(32).toString('base64url');

type Raw = Record<string, unknown>;
const BATCH = 500;

function fullGc(): number {
  for (let i = 0; i < 4; i++) gc?.();
  return process.memoryUsage().heapUsed;
}

async function serveOnce(app: express.Express): Promise<void> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const visit = await fetch(`${url}/visit`);
  const cookie = cookieFrom(visit.headers) ?? '';
  const login = await fetch(`${url}/login`, { method: 'POST', headers: { cookie } });
  if (login.status !== 200) throw new Error(`template login failed: ${login.status}`);
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

function templates(store: session.MemoryStore): { record: Raw; tombstone?: Raw } {
  const sessions = (store as unknown as { sessions: Record<string, string> }).sessions;
  let record: Raw | undefined;
  let tombstone: Raw | undefined;
  for (const json of Object.values(sessions)) {
    const value = JSON.parse(json) as Raw;
    if ('fixationGuardTombstone' in value) tombstone = value;
    else record = value;
  }
  if (!record) throw new Error('no session record after the template login');
  return { record, ...(tombstone ? { tombstone } : {}) };
}

async function main(): Promise<void> {
  const store = new session.MemoryStore();
  const app = express();
  let write: (i: number) => Promise<void>;
  if (kind === 'plain') {
    app.use(plainSession(SECRET, store));
    app.get('/visit', (req, res) => void res.json({ visits: (req.session.visits = 1) }));
    app.post('/login', (req, res, next) => {
      const { cookie: _c, ...carried } = req.session;
      req.session.regenerate((err) => {
        if (err) return next(err);
        Object.assign(req.session, carried, { user: 'alice' });
        req.session.save(() => res.json({ user: 'alice' }));
      });
    });
    await serveOnce(app);
    const { record } = templates(store);
    store.clear();
    write = (i) =>
      new Promise<void>((resolve, reject) => {
        // express-session's default ids: uid-safe, 24 random bytes.
        const id = randomBytes(24).toString('base64url');
        store.set(id, { ...record, user: `user${i}` } as never, (err) =>
          err ? reject(err as Error) : resolve(),
        );
      });
  } else {
    const index = new MemorySessionIndex();
    const guard = sessionGuard({
      secret: SECRET,
      store,
      index,
      plainHttpDevelopment: true,
      env: 'development',
      audit: [],
    });
    app.use(guard);
    app.get('/visit', (req, res) => void res.json({ visits: (req.session.visits = 1) }));
    app.post('/login', async (req, res, next) => {
      try {
        await guarded(req).login('alice');
        res.json({ user: 'alice' });
      } catch (err) {
        next(err);
      }
    });
    await serveOnce(app);
    const { record } = templates(store);
    store.clear();
    await index.removeAll('alice');
    const guardedStore = guard.store;
    // The template record with this session's principal, whatever the encoding of the guard's
    // state. Its binding hash and times are kept: they have the same length for every session,
    // so the bytes are those of a record bound to its own id (the store is written through its
    // API, not through a request, so nothing checks the binding).
    const template = JSON.stringify(record);
    if (!template.includes('"alice"'))
      throw new Error('the template record does not name its principal');
    write = async (i) => {
      const principal = `user${i}`;
      const oldId = randomBytes(32).toString('base64url');
      const id = randomBytes(32).toString('base64url');
      const now = Date.now();
      await guardedStore.index('index', (ix) =>
        ix.admit(principal, { sessionId: id, createdAt: now, lastSeenAt: now }),
      );
      const sess = JSON.parse(template.replaceAll('"alice"', JSON.stringify(principal))) as Raw;
      await new Promise<void>((resolve, reject) =>
        guardedStore.set(id, sess as never, (err) => (err ? reject(err as Error) : resolve())),
      );
      if (kind === 'guard-tombstones') {
        // The pre-login session the login rotated away from: it existed, so it is tombstoned
        // (an id without a record gets no tombstone).
        await new Promise<void>((resolve, reject) =>
          store.set(oldId, { cookie: record.cookie, visits: 1 } as never, (err) =>
            err ? reject(err as Error) : resolve(),
          ),
        );
        await guardedStore.endSession(oldId, 'rotated');
      }
    };
  }
  const before = fullGc();
  const started = performance.now();
  // Batches of concurrent writes, like concurrent requests (and 100k sequential awaits are slow).
  for (let i = 0; i < count; i += BATCH) {
    const batch: Array<Promise<void>> = [];
    for (let j = i; j < Math.min(count, i + BATCH); j++) batch.push(write(j));
    await Promise.all(batch);
  }
  const ms = performance.now() - started;
  const after = fullGc();
  const sample = (store as unknown as { sessions: Record<string, string> }).sessions;
  const ids = Object.keys(sample);
  const firstId = ids.find((id) => !(sample[id] ?? '').includes('fixationGuardTombstone')) ?? '';
  process.stdout.write(
    `${JSON.stringify({
      kind,
      count,
      heapBytesPerSession: Math.round((after - before) / count),
      heapUsedDeltaMiB: Math.round(((after - before) / 2 ** 20) * 10) / 10,
      storeKeys: ids.length,
      recordBytes: (sample[firstId] ?? '').length,
      idLength: firstId.length,
      writeMs: Math.round(ms),
    })}\n`,
  );
}

await main();
