/**
 * The example login app behind `examples/basic-login` and `examples/vulnerable-app`: the same
 * routes (DESIGN section 5), differing only in the guard's options.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Store } from 'express-session';
import {
  ManualClock,
  requireAuth,
  secureHeaders,
  sessionGuard,
  systemClock,
  type SessionGuardOptions,
  type SessionIndex,
  guarded,
} from '../../src/index.js';
import { accountPages } from './pages.js';

declare module 'express-session' {
  interface SessionData {
    visits?: number;
  }
}

// A Map, not an object literal: `USERS['constructor']` would find Object.prototype's members and
// turn a login as `constructor`, `__proto__` or `toString` into a 500.
const USERS = new Map<string, string>([
  ['alice', 'alice-password'],
  ['bob', 'bob-password'],
]);

/** `LOAD_USERS=N` adds user1 … userN with passwords password-1 … (load tests need many principals). */
function addLoadUsers(value: string | undefined): void {
  if (value === undefined || value === '') return;
  const count = Number(value);
  if (!Number.isInteger(count) || count < 0 || count > 1_000_000) {
    throw new Error(`LOAD_USERS must be a whole number from 0 to 1000000; got ${JSON.stringify(value)}`);
  }
  for (let i = 1; i <= count; i++) USERS.set(`user${i}`, `password-${i}`);
}
addLoadUsers(process.env.LOAD_USERS);

function checkPassword(username: unknown, password: unknown): username is string {
  if (typeof username !== 'string' || typeof password !== 'string') return false;
  const expected = USERS.get(username);
  if (expected === undefined) return false;
  const a = Buffer.from(password);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export interface ExampleAppOptions {
  guard?: Partial<SessionGuardOptions>;
  store?: Store;
  index?: SessionIndex;
  /** Exposes `POST /__test/clock` so the attack suite can run the timeout attacks. */
  testClock?: boolean;
  /** csrf-csrf tokens on the HTML forms; `false` shows the guard's own login-CSRF check alone (browser tests). The default value is `true`. */
  csrfTokens?: boolean;
  /** Overrides secureHeaders' `Referrer-Policy` (browser tests show what `no-referrer` does to `Origin`). */
  referrerPolicy?: 'no-referrer' | 'same-origin';
}

export function createLoginApp(options: ExampleAppOptions = {}) {
  const clock = options.testClock ? new ManualClock(Date.now()) : systemClock;
  const secret = process.env.SESSION_SECRET ?? randomBytes(32).toString('base64url');
  const app = express();
  app.disable('x-powered-by');
  const plainHttp = options.guard?.plainHttpDevelopment ?? true;
  app.use(
    secureHeaders({
      helmet: {
        // The default Referrer-Policy (same-origin) keeps `Origin` on the login form's POST.
        ...(options.referrerPolicy ? { referrerPolicy: { policy: options.referrerPolicy } } : {}),
        // Over plain HTTP, upgrade-insecure-requests would send the pages' forms to https://.
        ...(plainHttp ? { contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } } : {}),
      },
    }),
  );
  const guard = sessionGuard({
    secret,
    clock,
    // The examples serve plain HTTP on 127.0.0.1; behind TLS drop this line and the cookie
    // becomes `__Host-sid; Secure`.
    plainHttpDevelopment: true,
    ...(options.store ? { store: options.store } : {}),
    ...(options.index ? { index: options.index } : {}),
    ...options.guard,
  });
  app.use(guard);
  // The HTML pages (login form, account, your devices), form-encoded and CSRF-protected.
  app.use('/account', accountPages({ guard, secret, checkPassword, ...(options.csrfTokens === false ? { csrfTokens: false } : {}) }));
  // Bodies are parsed after the guard: a request it refuses is never parsed, and a slow body
  // keeps the request in flight with its session already loaded (the late-save race).
  app.use(express.json({ limit: '10kb' }));

  app.get('/', (req, res) => {
    req.session.visits = (req.session.visits ?? 0) + 1;
    res.json({ visits: req.session.visits, user: req.sessionGuard?.principal ?? null });
  });

  app.post('/login', async (req, res, next) => {
    try {
      const { username, password } = (req.body ?? {}) as { username?: unknown; password?: unknown };
      if (!checkPassword(username, password)) {
        res.status(401).json({ error: { code: 'BAD_CREDENTIALS', message: 'Unknown user or wrong password.' } });
        return;
      }
      await guarded(req).login(username);
      res.json({ user: username });
    } catch (err) {
      next(err);
    }
  });

  app.get('/me', requireAuth(), (req, res) => {
    const state = req.sessionGuard?.state;
    res.json({ user: req.sessionGuard?.principal, authenticatedAt: state?.authAt, privilege: state?.privilege ?? null, visits: req.session.visits ?? 0 });
  });

  app.post('/elevate', requireAuth(), async (req, res, next) => {
    try {
      await guarded(req).elevate({ privilege: 'admin' });
      res.json({ user: req.sessionGuard?.principal, privilege: 'admin' });
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
      const ended = await guarded(req).logoutEverywhere();
      res.json({ ended });
    } catch (err) {
      next(err);
    }
  });

  app.get('/sessions', requireAuth(), async (req, res, next) => {
    try {
      res.json({ sessions: await guard.listSessions(req.sessionGuard?.principal as string) });
    } catch (err) {
      next(err);
    }
  });

  if (clock instanceof ManualClock) {
    app.post('/__test/clock', (req, res) => {
      const advanceMs = Number((req.body as { advanceMs?: unknown } | undefined)?.advanceMs);
      if (!Number.isFinite(advanceMs) || advanceMs < 0) {
        res.status(400).json({ error: { code: 'BAD_REQUEST', message: '`advanceMs` must be a non-negative number' } });
        return;
      }
      res.json({ now: clock.advance(advanceMs) });
    });
  }

  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = typeof (err as { status?: unknown }).status === 'number' ? (err as { status: number }).status : 500;
    const code = (err as { code?: unknown }).code;
    res.status(status).json({
      error: { code: typeof code === 'string' ? code : 'INTERNAL', message: status < 500 ? (err as Error).message : 'Internal error' },
    });
  });

  return { app, guard, clock };
}
