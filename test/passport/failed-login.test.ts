/**
 * Real passport (0.7, passport.authenticate('local')) over a regenerated login whose record's
 * write fails (the store refuses it): 503 through passport's own callback flow, no live session
 * or cookie of the login, the reservation dropped (a retry is admitted under rejectLogin with
 * a limit of 1), and the client's next request is served. One refused at the limit (rejectLogin)
 * is refused once: the request keeps no session of it (the error answer's end saved it again,
 * which reserved again: two `login_rejected` events), and sends no cookie of a live session.
 * On Express 4 and 5.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import express, { type NextFunction, type Request, type Response } from 'express';
import { Passport } from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import { ManualClock, MemorySessionIndex, memorySink, sessionGuard, type SessionGuardOptions } from '../../src/index.js';
import { stateOf } from '../../src/policy/state.js';
import { SECRET, https, idOf, request, setCookie } from '../helpers.js';
import { HoldStore } from '../support/hold-store.js';

/** Real passport (local strategy) after the guard, with `options` for the guard (`rejectLogin`, a limit of 1). */
function app(options: Partial<SessionGuardOptions> = {}) {
  const passport = new Passport();
  passport.use(new LocalStrategy((username, password, done) => (password === `${username}-password` ? done(null, { id: username }) : done(null, false))));
  passport.serializeUser((user, done) => done(null, (user as { id: string }).id));
  passport.deserializeUser((id: string, done) => done(null, { id }));
  const audit = memorySink();
  const guard = sessionGuard({ secret: SECRET, audit, clock: new ManualClock(), trustProxy: true, maxSessionsPerUser: 1, onSessionLimit: 'rejectLogin', ...options });
  const a = express();
  a.use(express.json());
  a.use(guard);
  a.use(passport.initialize());
  a.use(passport.session());
  a.get('/', (req, res) => {
    req.session.visits = (req.session.visits ?? 0) + 1;
    res.json({ visits: req.session.visits });
  });
  a.post('/login', passport.authenticate('local'), (req, res) => res.json({ user: (req.user as { id: string }).id }));
  a.get('/me', (req, res) => (req.isAuthenticated() ? res.json({ user: (req.user as { id: string }).id }) : res.status(401).json({})));
  a.use((err: { status?: number; code?: string; message: string }, _req: Request, res: Response, _next: NextFunction) => {
    res.status(err.status ?? 500).json({ error: { code: err.code ?? 'INTERNAL', message: err.message } });
  });
  return { app: a, guard, audit };
}

describe('passport login whose write fails', () => {
  it('answers 503 with no session left, and a retry logs in', async () => {
    const store = new HoldStore();
    const { app: a, guard } = app({ store, index: new MemorySessionIndex() });
    const anon = setCookie(await https(request(a).get('/')).expect(200)) as string;
    store.failSet = (_sid, sess) => ((sess as { passport?: unknown }).passport ? Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }) : undefined);
    const res = await https(request(a).post('/login')).set('Cookie', anon).send({ username: 'alice', password: 'alice-password' });
    assert.equal(res.status, 503, JSON.stringify(res.body));
    const set = setCookie(res);
    if (set) assert.equal((await https(request(a).get('/me')).set('Cookie', set)).status, 401, 'the failed login set a live cookie');
    assert.equal((await guard.listSessions('alice')).length, 0);
    for (const [sid, json] of store.map) {
      const rec = JSON.parse(json) as Record<string, unknown>;
      assert.ok(!('passport' in rec) || 'fixationGuardTombstone' in rec || stateOf(rec) === undefined, `a live passport record remains (${sid.slice(0, 6)})`);
    }
    store.failSet = undefined;
    // The client's next request (old cookie, now a tombstone) is served.
    await https(request(a).get('/')).set('Cookie', anon).expect(200);
    const again = await https(request(a).post('/login')).set('Cookie', anon).send({ username: 'alice', password: 'alice-password' });
    assert.equal(again.status, 200, `retry answered ${again.status} ${JSON.stringify(again.body)}`);
    const cookie = setCookie(again) as string;
    assert.ok(cookie && idOf(cookie) !== idOf(anon));
    await https(request(a).get('/me')).set('Cookie', cookie).expect(200);
  });
});

describe('passport login refused at the limit', () => {
  it('is audited once and sets no live cookie', async () => {
    const { app: a, audit } = app();
    const first = await https(request(a).post('/login')).send({ username: 'alice', password: 'alice-password' }).expect(200);
    assert.ok(setCookie(first));
    const anon = setCookie(await https(request(a).get('/')).expect(200)) as string;
    const res = await https(request(a).post('/login')).set('Cookie', anon).send({ username: 'alice', password: 'alice-password' });
    assert.equal(res.status, 409, JSON.stringify(res.body));
    const set = setCookie(res);
    if (set) assert.equal((await https(request(a).get('/me')).set('Cookie', set)).status, 401);
    const rejected = audit.events.filter((e) => e.type === 'login_rejected').length;
    assert.equal(rejected, 1, `one refused login audited ${rejected} times`);
  });
});
