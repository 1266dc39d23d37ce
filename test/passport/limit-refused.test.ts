/**
 * A passport login refused at the limit (rejectLogin) is refused once: the request keeps no
 * session of it, and its answer carries no cookie of a live session. Before, the refusal in the
 * write gate (the login's reservation, before any write) left the regenerated session with
 * `passport.user` on the request, and the error answer's end saved it again, which reserved
 * again: one login attempt, two `login_rejected` events.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import express, { type NextFunction, type Request, type Response } from 'express';
import { Passport } from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import { ManualClock, memorySink, sessionGuard } from '../../src/index.js';
import { SECRET, https, request, setCookie } from '../helpers.js';

describe('passport login refused at the limit', () => {
  it('is audited once and sets no live cookie', async () => {
    const passport = new Passport();
    passport.use(new LocalStrategy((username, password, done) => (password === `${username}-password` ? done(null, { id: username }) : done(null, false))));
    passport.serializeUser((user, done) => done(null, (user as { id: string }).id));
    passport.deserializeUser((id: string, done) => done(null, { id }));
    const audit = memorySink();
    const guard = sessionGuard({ secret: SECRET, audit, clock: new ManualClock(), trustProxy: true, maxSessionsPerUser: 1, onSessionLimit: 'rejectLogin' });
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
