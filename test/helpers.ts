/**
 * Small helpers shared by the tests: an app with the guard and the example-style routes,
 * cookie capture/replay, and id extraction. Every request goes through supertest over real HTTP.
 */
import assert from 'node:assert/strict';
import express, { type NextFunction, type Request, type Response } from 'express';
import signature from 'cookie-signature';
import request from 'supertest';
import { ManualClock, memorySink, requireAuth, sessionGuard, type SessionGuardOptions, authenticated, guarded } from '../src/index.js';

declare module 'express-session' {
  interface SessionData {
    visits?: number;
    cart?: string[];
    returnTo?: string;
    theme?: string;
    user?: unknown;
  }
}

export const SECRET = 'test-secret-that-is-long-enough-0123456789';
export const OTHER_SECRET = 'another-secret-that-is-long-enough-98765';

export interface TestApp {
  app: express.Express;
  guard: ReturnType<typeof sessionGuard>;
  audit: ReturnType<typeof memorySink>;
  clock: ManualClock;
}

/**
 * An app with the guard in production-like secure mode (Secure `__Host-sid` cookie, proxy
 * trusted): requests must carry `X-Forwarded-Proto: https`, which `https()` adds.
 */
export function buildApp(options: Partial<SessionGuardOptions> = {}, extra?: (app: express.Express) => void): TestApp {
  const audit = memorySink();
  const clock = (options.clock as ManualClock | undefined) ?? new ManualClock();
  const app = express();
  app.use(express.json());
  const guard = sessionGuard({ secret: SECRET, audit, clock, trustProxy: true, ...options });
  app.use(guard);
  extra?.(app);
  app.get('/', (req, res) => {
    req.session.visits = (req.session.visits ?? 0) + 1;
    res.json({ visits: req.session.visits });
  });
  app.post('/cart', (req, res) => {
    req.session.cart = [...(req.session.cart ?? []), String((req.body as { item?: string }).item)];
    req.session.returnTo = '/checkout';
    req.session.theme = 'dark';
    res.json({ cart: req.session.cart });
  });
  app.get('/session-data', (req, res) => {
    res.json({ cart: req.session?.cart ?? null, returnTo: req.session?.returnTo ?? null, theme: req.session?.theme ?? null, visits: req.session?.visits ?? null });
  });
  app.post('/login', async (req, res, next) => {
    try {
      const { username, keep } = req.body as { username: string; keep?: string[] };
      await guarded(req).login(username, keep ? { keep } : {});
      res.json({ user: username });
    } catch (err) {
      next(err);
    }
  });
  app.get('/me', requireAuth(), (req, res) => {
    res.json({ user: authenticated(req).principal, privilege: authenticated(req).state.privilege ?? null });
  });
  app.post('/elevate', requireAuth(), async (req, res, next) => {
    try {
      await guarded(req).elevate({ privilege: 'admin' });
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
  app.post('/logout-all', requireAuth(), async (req, res, next) => {
    try {
      res.json({ ended: await guarded(req).logoutEverywhere() });
    } catch (err) {
      next(err);
    }
  });
  // An app bug the tripwire exists for: authenticating without req.login().
  app.post('/naive-login', (req, res) => {
    req.session.user = (req.body as { username: string }).username;
    res.json({ user: req.session.user });
  });
  app.post('/naive-login-save', (req, res, next) => {
    req.session.user = (req.body as { username: string }).username;
    req.session.save((err) => (err ? next(err) : res.json({ ok: true })));
  });
  app.use((err: { status?: number; code?: string; message: string }, _req: Request, res: Response, _next: NextFunction) => {
    res.status(err.status ?? 500).json({ error: { code: err.code ?? 'INTERNAL', message: err.message } });
  });
  return { app, guard, audit, clock };
}

type Test = request.Test;

/** Marks a supertest request as arriving through a TLS proxy. */
export function https(test: Test): Test {
  return test.set('X-Forwarded-Proto', 'https');
}

/** `name=value` of the cookie `name` in a response's Set-Cookie, if it sets a non-empty one. */
export function setCookie(res: request.Response, name = '__Host-sid'): string | undefined {
  const header = res.headers['set-cookie'] as unknown as string[] | undefined;
  for (const line of header ?? []) {
    const pair = line.split(';')[0] as string;
    const eq = pair.indexOf('=');
    if (pair.slice(0, eq) === name && pair.slice(eq + 1) !== '') return pair;
  }
  return undefined;
}

/** The whole Set-Cookie line for `name`. */
export function setCookieLine(res: request.Response, name = '__Host-sid'): string | undefined {
  const header = res.headers['set-cookie'] as unknown as string[] | undefined;
  return header?.find((line) => line.startsWith(`${name}=`));
}

/** The raw session id inside a signed cookie pair. */
export function idOf(cookiePair: string): string {
  const value = decodeURIComponent(cookiePair.slice(cookiePair.indexOf('=') + 1));
  if (!value.startsWith('s:')) throw new Error(`not a signed cookie: ${cookiePair}`);
  return value.slice(2, value.lastIndexOf('.'));
}

/** A correctly signed cookie pair for an arbitrary id (what an attacker cannot make without the secret). */
export function signedCookie(id: string, name = '__Host-sid', secret = SECRET): string {
  return `${name}=${encodeURIComponent(`s:${signature.sign(id, secret)}`)}`;
}

/** GET / to obtain an anonymous session cookie (what the attacker does first). */
export async function anonymousCookie(app: express.Express, name = '__Host-sid'): Promise<string> {
  const res = await https(request(app).get('/')).expect(200);
  const cookie = setCookie(res, name);
  if (!cookie) throw new Error('GET / set no session cookie');
  return cookie;
}

export function loginWith(app: express.Express, cookie: string | undefined, username = 'alice', body: Record<string, unknown> = {}): Test {
  const test = https(request(app).post('/login')).send({ username, ...body });
  if (cookie) test.set('Cookie', cookie);
  return test;
}

export { request };

/** Logs `username` in (on `cookie`, if given) and returns the session cookie the login set. */
export async function login(app: express.Express, username = 'alice', cookie?: string): Promise<string> {
  const res = await loginWith(app, cookie, username);
  assert.equal(res.status, 200, `login answered ${res.status} ${JSON.stringify(res.body)}`);
  const set = setCookie(res);
  assert.ok(set, 'login sets a cookie');
  return set;
}

/**
 * Logs `user` in from an anonymous session that is already stored (GET / first), as a browser
 * does; expects `status`.
 */
export async function signIn(app: express.Express, user: string, status = 200) {
  return await loginWith(app, await anonymousCookie(app), user).expect(status);
}

export function me(app: express.Express, cookie: string): Test {
  return https(request(app).get('/me')).set('Cookie', cookie);
}

export function post(app: express.Express, path: string, cookie?: string): Test {
  const test = https(request(app).post(path));
  return cookie ? test.set('Cookie', cookie) : test;
}

/** The cookies (of those given) that still get 200 on /me. */
export async function alive(app: express.Express, cookies: readonly string[]): Promise<string[]> {
  const live: string[] = [];
  for (const cookie of cookies) if ((await me(app, cookie)).status === 200) live.push(cookie);
  return live;
}

/** The session behind `cookie` is listed for `principal`, and revoking the principal ends it (401). */
export async function expectListedAndRevocable(
  guard: TestApp['guard'],
  app: express.Express,
  principal: string,
  cookie: string,
  what: string,
): Promise<void> {
  assert.equal((await guard.listSessions(principal)).length, 1, `listSessions lists the ${what} session`);
  assert.ok((await guard.revokeSessions(principal)) >= 1, `revokeSessions finds the ${what} session`);
  const res = await me(app, cookie);
  assert.equal(res.status, 401, `the ${what} cookie still answers ${res.status} after revokeSessions`);
}

/** The first characters of each cookie's id, for a failure message (never a whole id). */
export function shortIds(cookies: readonly string[]): string {
  return cookies.map((c) => idOf(c).slice(0, 8)).join(', ');
}

/** A promise whose resolve the test holds: opened when the test chooses, never by time. */
export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve(value: T): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * A gate for test-only routes: a request calls `await gate.pass()` at the point where it must
 * wait (e.g. after its session was loaded, before it rotates); the test awaits
 * `gate.arrived(n)` to know that `n` requests are held there, then calls `open()`.
 */
export class Gate {
  #arrivals = 0;
  readonly #waiters: Array<{ count: number; resolve: () => void }> = [];
  readonly #opened = deferred();

  /** How many requests have reached the gate so far. */
  get arrivals(): number {
    return this.#arrivals;
  }

  pass(): Promise<void> {
    this.#arrivals++;
    for (const waiter of this.#waiters.filter((w) => w.count <= this.#arrivals)) {
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
    return this.#opened.promise;
  }

  /** Resolves once `count` requests wait at (or went through) the gate. */
  arrived(count = 1): Promise<void> {
    if (this.#arrivals >= count) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ count, resolve }));
  }

  open(): void {
    this.#opened.resolve();
  }
}

/**
 * Test-only routes that hold a request at `gate` after its session was loaded: POST
 * /elevate-held (authenticated; then `req.elevate()`) and POST /login-held (then
 * `req.login(username)`). Pass as `buildApp`'s `extra`.
 */
export function heldRoutes(gate: Gate): (app: express.Express) => void {
  return function installHeldRoutes(app) {
    app.post('/elevate-held', requireAuth(), async (req, res, next) => {
      try {
        await gate.pass();
        await guarded(req).elevate({ privilege: 'admin' });
        res.json({ ok: true });
      } catch (err) {
        next(err);
      }
    });
    app.post('/login-held', async (req, res, next) => {
      try {
        const { username } = req.body as { username: string };
        await gate.pass();
        await guarded(req).login(username);
        res.json({ user: username });
      } catch (err) {
        next(err);
      }
    });
  };
}

/**
 * A login the way passport ≥0.6 makes one, without passport: `req.session.regenerate()`, then
 * `passport.user` set to the body's `username`, then `req.session.save()`.
 */
export function regeneratedLoginRoute(app: express.Express, path = '/passport-login'): void {
  app.post(path, (req, res, next) => {
    const user = (req.body as { username: string }).username;
    req.session.regenerate((err: unknown) => {
      if (err) return next(err);
      (req.session as unknown as Record<string, unknown>).passport = { user };
      req.session.save((saveErr: unknown) => (saveErr ? next(saveErr) : res.json({ user })));
    });
  });
}
