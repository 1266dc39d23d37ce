/**
 * A small express-session app that follows the examples contract (DESIGN §5) and defends
 * against every attack of the suite by hand, so that each flaw can be switched on alone.
 * It deliberately does not use fixation-guard: the suite must judge apps it did not build.
 */
import { randomBytes } from 'node:crypto';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import session, { type SessionData, type Store } from 'express-session';
import signature from 'cookie-signature';
import type { AttackOutcome, FixationReport } from '../../../src/attack-suite/index.js';
import { ManualClock } from '../../../src/clock/index.js';

export type Flaw =
  | 'no-rotation'
  | 'old-id-alive'
  | 'rotate-anonymous-only'
  | 'url-ids'
  | 'no-httponly'
  | 'duplicate-cookies-last-wins'
  | 'logout-clears-cookie-only'
  | 'logout-all-current-only'
  | 'counter-ids'
  | 'unsigned-ids'
  | 'adopt-forged-ids'
  | 'echo-id-in-body'
  | 'echo-id-in-location'
  | 'no-elevate-rotation'
  | 'no-tombstones'
  | 'no-idle-timeout'
  | 'no-absolute-timeout'
  | 'no-samesite'
  | 'domain-cookie'
  | 'no-secure'
  | 'no-host-prefix'
  | 'cross-site-login';

export interface TestApp {
  app: Express;
  clock: ManualClock;
}

declare module 'express-session' {
  interface SessionData {
    visits?: number;
    // Named apart from other test files' augmentations, which share this global interface.
    account?: string;
    loginAt?: number;
    lastSeen?: number;
    elevated?: boolean;
  }
}

const USERS: Record<string, string> = { alice: 'alice-password', bob: 'bob-password' };
const SECRET = 'attack-suite test secret';
const IDLE_MS = 30 * 60_000;
const ABSOLUTE_MS = 4 * 60 * 60_000;

/** Wraps a store so destroyed ids stay dead: a late `set` of a destroyed id is dropped. */
class TombstoningStore extends session.Store {
  readonly inner = new session.MemoryStore();
  readonly tombstones = new Set<string>();
  constructor(private readonly enabled: boolean) {
    super();
  }
  override get(sid: string, cb: (err: unknown, s?: SessionData | null) => void): void {
    if (this.enabled && this.tombstones.has(sid)) return void setImmediate(cb, null, null);
    this.inner.get(sid, cb);
  }
  override set(sid: string, data: SessionData, cb?: (err?: unknown) => void): void {
    if (this.enabled && this.tombstones.has(sid)) return void setImmediate(() => cb?.());
    this.inner.set(sid, data, cb);
  }
  override destroy(sid: string, cb?: (err?: unknown) => void): void {
    this.tombstones.add(sid);
    this.inner.destroy(sid, cb);
  }
  override touch(sid: string, data: SessionData, cb?: () => void): void {
    if (this.enabled && this.tombstones.has(sid)) return void setImmediate(() => cb?.());
    this.inner.touch(sid, data, cb);
  }
}

function rawCookies(req: Request, name: string): string[] {
  return (req.headers.cookie ?? '')
    .split(';')
    .map((pair) => pair.trim())
    .filter((pair) => pair.startsWith(`${name}=`))
    .map((pair) => pair.slice(name.length + 1));
}

const promisify = (fn: (cb: (err?: unknown) => void) => void) =>
  new Promise<void>((resolve, reject) => fn((err) => (err ? reject(err) : resolve())));

/** Builds the app with the given flaws (none: an app that resists the whole catalogue). */
export function createTestApp(flaws: readonly Flaw[] = [], options: { https?: boolean } = {}): TestApp {
  const has = (flaw: Flaw) => flaws.includes(flaw);
  const clock = new ManualClock();
  const store = new TombstoningStore(!has('no-tombstones'));
  const name = options.https && !has('no-host-prefix') ? '__Host-sid' : 'sid';
  const sessionsOf = new Map<string, Set<string>>();
  let counter = 0;
  const app = express();
  if (options.https) app.set('trust proxy', 1);

  app.use(function urlIds(req: Request, res: Response, next: NextFunction) {
    const fromUrl = (req.query.sid ?? req.query[name]) as string | undefined;
    if (has('url-ids')) {
      if (fromUrl && !req.headers.cookie) req.headers.cookie = `${name}=${encodeURIComponent(fromUrl)}`;
      return next();
    }
    if (fromUrl !== undefined || /;jsessionid=/i.test(req.originalUrl)) return void res.status(400).json({ error: 'session id in URL' });
    next();
  });
  app.use(function duplicateCookies(req: Request, res: Response, next: NextFunction) {
    const values = rawCookies(req, name);
    if (values.length < 2) return next();
    if (!has('duplicate-cookies-last-wins')) return void res.status(400).json({ error: 'cookie tossing' });
    req.headers.cookie = `${name}=${values.at(-1)}`;
    next();
  });
  if (has('unsigned-ids')) {
    app.use(function acceptUnsigned(req: Request, _res: Response, next: NextFunction) {
      const [value] = rawCookies(req, name);
      const decoded = value === undefined ? undefined : decodeURIComponent(value);
      if (decoded !== undefined && !decoded.startsWith('s:')) {
        req.headers.cookie = `${name}=${encodeURIComponent(`s:${signature.sign(decoded, SECRET)}`)}`;
      }
      next();
    });
  }
  app.use(
    session({
      name,
      secret: SECRET,
      store: store as Store,
      resave: false,
      saveUninitialized: false,
      cookie: {
        httpOnly: !has('no-httponly'),
        ...(has('no-samesite') ? {} : { sameSite: 'lax' as const }),
        path: '/',
        ...(has('domain-cookie') ? { domain: 'example.test' } : {}),
        secure: options.https && !has('no-secure') ? 'auto' : false,
      },
      genid(req) {
        if (has('counter-ids')) return String(++counter);
        if (has('adopt-forged-ids')) {
          const [value] = rawCookies(req, name);
          if (value && !decodeURIComponent(value).startsWith('s:')) return decodeURIComponent(value);
        }
        return randomBytes(32).toString('base64url');
      },
    }),
  );
  // The body parser comes after the session, as in express-session's own examples: that is the
  // order in which a held request has loaded its session before its body arrives.
  // JSON and form logins both (as an app whose pages post forms): a form is what another site's
  // page can send, so the login-CSRF check below is what keeps it out.
  app.use(express.json());
  app.use(express.urlencoded({ extended: false }));
  app.use(function timeouts(req: Request, _res: Response, next: NextFunction) {
    const s = req.session;
    if (!s.account) return next();
    const now = clock.now();
    const idle = !has('no-idle-timeout') && now - (s.lastSeen ?? now) > IDLE_MS;
    const absolute = !has('no-absolute-timeout') && now - (s.loginAt ?? now) > ABSOLUTE_MS;
    if (idle || absolute) return void s.regenerate((err) => next(err));
    s.lastSeen = now;
    next();
  });

  app.get('/', (req, res) => {
    req.session.visits = (req.session.visits ?? 0) + 1;
    res.json({ visits: req.session.visits });
  });

  app.post('/login', async (req, res, next) => {
    try {
      const { username, password } = (req.body ?? {}) as { username?: string; password?: string };
      if (!username || USERS[username] !== password) return void res.status(401).json({ error: 'bad credentials' });
      // Login CSRF, refused by hand: a browser marks a login another site's page submitted.
      const origin = req.get('origin');
      if (!has('cross-site-login') && (req.get('sec-fetch-site') === 'cross-site' || (origin !== undefined && origin !== `${req.protocol}://${req.get('host')}`))) {
        return void res.status(403).json({ error: 'cross-site login' });
      }
      const oldId = req.sessionID;
      const oldData = JSON.parse(JSON.stringify(req.session)) as SessionData;
      // 'rotate-anonymous-only': "switch account" on a session that is already logged in keeps its id.
      if (!has('no-rotation') && !(has('rotate-anonymous-only') && req.session.account !== undefined)) {
        await promisify((cb) => req.session.regenerate(cb));
        if (has('old-id-alive')) {
          store.tombstones.delete(oldId);
          await promisify((cb) => store.inner.set(oldId, oldData, cb));
        }
      }
      req.session.account = username;
      req.session.loginAt = clock.now();
      req.session.lastSeen = clock.now();
      const ids = sessionsOf.get(username) ?? new Set<string>();
      ids.add(req.sessionID);
      sessionsOf.set(username, ids);
      await promisify((cb) => req.session.save(cb));
      if (has('echo-id-in-location')) return void res.redirect(303, `/me?session=${encodeURIComponent(req.sessionID)}`);
      res.json({ user: username });
    } catch (err) {
      next(err);
    }
  });

  app.get('/me', (req, res) => {
    if (!req.session.account) return void res.status(401).json({ error: 'not logged in' });
    res.json({ user: req.session.account, visits: req.session.visits ?? 0, ...(has('echo-id-in-body') ? { sessionId: req.sessionID } : {}) });
  });

  app.post('/elevate', async (req, res, next) => {
    try {
      if (!req.session.account) return void res.status(401).json({ error: 'not logged in' });
      if (!has('no-elevate-rotation')) {
        const { account, loginAt, lastSeen, visits } = req.session;
        await promisify((cb) => req.session.regenerate(cb));
        Object.assign(req.session, { account, loginAt, lastSeen, visits });
        if (account) sessionsOf.get(account)?.add(req.sessionID);
      }
      req.session.elevated = true;
      res.json({ user: req.session.account, elevated: true });
    } catch (err) {
      next(err);
    }
  });

  app.post('/logout', async (req, res, next) => {
    try {
      if (!has('logout-clears-cookie-only')) await promisify((cb) => req.session.destroy(cb));
      res.clearCookie(name, { path: '/' }).status(204).end();
    } catch (err) {
      next(err);
    }
  });

  app.post('/logout-all', async (req, res, next) => {
    try {
      const user = req.session.account;
      if (!user) return void res.status(401).json({ error: 'not logged in' });
      const ids = has('logout-all-current-only') ? [req.sessionID] : [...(sessionsOf.get(user) ?? [])];
      for (const id of ids) await promisify((cb) => store.destroy(id, cb));
      sessionsOf.delete(user);
      res.clearCookie(name, { path: '/' }).status(204).end();
    } catch (err) {
      next(err);
    }
  });

  app.post('/__test/clock', (req, res) => {
    res.json({ now: clock.advance(Number((req.body as { advanceMs?: unknown }).advanceMs)) });
  });

  return { app, clock };
}

/** The suite's options for a test app (every optional route and its clock). */
export function suiteOptionsFor(testApp: TestApp) {
  return {
    loginBody: { username: 'alice', password: 'alice-password' },
    elevatePath: '/elevate',
    logoutAllPath: '/logout-all',
    clock: { advance: (ms: number) => testApp.clock.advance(ms) },
    entropySamples: 32,
  };
}

/** The ids of the attacks with this outcome, sorted, for exact-set assertions. */
export function attackIds(report: FixationReport, outcome: AttackOutcome): string[] {
  return report.results
    .filter((r) => r.outcome === outcome)
    .map((r) => r.id)
    .sort();
}
