/**
 * Tombstones are bounded: in-process, a guard (the built package) on a MemoryStore over real
 * HTTP, and a count of what the store holds.
 *
 * 1. Requests that have no stored session — no cookie, a forged cookie, an unsigned one — on
 *    every route that could end a session (`POST /logout`, `GET /me`, `GET /visit`): the store
 *    must hold no tombstone afterwards (an anonymous `POST /logout` that stored one would be an
 *    unauthenticated write amplifier).
 * 2. Logins (each ends its pre-login id) and logouts: the store may hold at most one tombstone
 *    per rotation or logout, each living no longer than `tombstoneTtl`.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import express from 'express';
import session from 'express-session';
import { core } from '../lib/library.js';
import { cookieFrom } from '../lib/load.js';

const { MemorySessionIndex, guarded, requireAuth, sessionGuard } = core;

export interface TombstoneResult {
  /** Requests without a stored session, and the tombstones the store held after them. */
  noSessionRequests: number;
  tombstonesAfterNoSession: number;
  logins: number;
  logouts: number;
  /** Tombstones held after the logins and logouts. */
  tombstones: number;
  /** The longest a stored tombstone is set to live, and the configured `tombstoneTtl`. */
  longestLifetimeMs: number;
  tombstoneTtlMs: number;
}

const TOMBSTONE_TTL_MS = 15 * 60_000;

function tombstonesIn(store: session.MemoryStore): { count: number; longestMs: number } {
  const sessions = (store as unknown as { sessions: Record<string, string> }).sessions;
  let count = 0;
  let longestMs = 0;
  const now = Date.now();
  for (const json of Object.values(sessions)) {
    const record = JSON.parse(json) as {
      fixationGuardTombstone?: unknown;
      cookie?: { expires?: string };
    };
    if (record.fixationGuardTombstone === undefined) continue;
    count++;
    const expires = record.cookie?.expires
      ? Date.parse(record.cookie.expires)
      : Number.POSITIVE_INFINITY;
    longestMs = Math.max(longestMs, expires - now);
  }
  return { count, longestMs: Math.round(longestMs) };
}

export async function runTombstones(
  rounds: number,
  log: (line: string) => void,
): Promise<TombstoneResult> {
  log(
    `▶ Tombstones: ${rounds} rounds of requests without a stored session, logins and logouts (MemoryStore)`,
  );
  const secret = randomBytes(32).toString('base64url');
  const store = new session.MemoryStore();
  const app = express();
  const guard = sessionGuard({
    secret,
    store,
    index: new MemorySessionIndex(),
    tombstoneTtl: TOMBSTONE_TTL_MS,
    plainHttpDevelopment: true,
    env: 'development',
    audit: [],
  });
  app.use(guard);
  const name = guard.cookieName;
  app.get(
    '/visit',
    (req, res) => void res.json({ visits: (req.session.visits = (req.session.visits ?? 0) + 1) }),
  );
  app.get('/me', requireAuth(), (req, res) => void res.json({ user: req.sessionGuard?.principal }));
  app.post('/login', async (req, res, next) => {
    try {
      await guarded(req).login(String(req.query.user));
      res.json({ ok: true });
    } catch (err) {
      next(err);
    }
  });
  app.post('/logout', async (req, res, next) => {
    try {
      await guarded(req).logout();
      res.status(204).end();
    } catch (err) {
      next(err);
    }
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const call = async (method: 'GET' | 'POST', path: string, cookie?: string) => {
    const res = await fetch(`${url}${path}`, { method, headers: cookie ? { cookie } : {} });
    await res.arrayBuffer();
    return res;
  };
  try {
    // 1. No stored session: no cookie, a well-formed but forged signed cookie, a bare id.
    let noSessionRequests = 0;
    for (let i = 0; i < rounds; i++) {
      const forged = `${name}=s%3A${randomBytes(32).toString('base64url')}.${randomBytes(32).toString('base64url')}`;
      const bare = `${name}=${randomBytes(32).toString('base64url')}`;
      for (const cookie of [undefined, forged, bare]) {
        await call('POST', '/logout', cookie);
        await call('GET', '/me', cookie);
        noSessionRequests += 2;
      }
    }
    const afterNoSession = tombstonesIn(store).count;
    // 2. Logins (each ends the pre-login id) and logouts (each ends the session).
    let logins = 0;
    let logouts = 0;
    for (let i = 0; i < rounds; i++) {
      const anon = cookieFrom((await call('GET', '/visit')).headers) ?? '';
      const login = await call('POST', `/login?user=user${i}`, anon);
      const cookie = cookieFrom(login.headers) ?? '';
      if (login.status !== 200 || !cookie)
        throw new Error(`tombstones: login answered ${login.status}`);
      logins++;
      if (i % 2 === 0) {
        const out = await call('POST', '/logout', cookie);
        if (out.status !== 204) throw new Error(`tombstones: logout answered ${out.status}`);
        logouts++;
        // A dead cookie replayed ends nothing more.
        await call('POST', '/logout', cookie);
      }
    }
    const after = tombstonesIn(store);
    const result: TombstoneResult = {
      noSessionRequests,
      tombstonesAfterNoSession: afterNoSession,
      logins,
      logouts,
      tombstones: after.count,
      longestLifetimeMs: after.longestMs,
      tombstoneTtlMs: TOMBSTONE_TTL_MS,
    };
    log(
      `  ${noSessionRequests} requests without a stored session: ${afterNoSession} tombstones; ${logins} logins + ${logouts} logouts: ${after.count} tombstones`,
    );
    return result;
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}
