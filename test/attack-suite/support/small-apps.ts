/**
 * Small express-session apps for the suite's tests against app shapes it was not written for:
 * a start page that writes to the session, `/me`, `/logout`, the careful login, and running the
 * suite against one over real HTTP.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import express, { type RequestHandler } from 'express';
import session from 'express-session';
import { runFixationAttacks, type FixationAttackId, type FixationAttackOptions, type FixationReport } from '../../../src/attack-suite/index.js';

declare module 'express-session' {
  interface SessionData {
    visits?: number;
  }
}

export const SECRET = 'small-apps-secret-0123456789abcdef';
export const USERS: Record<string, string> = { alice: 'alice-password', mallory: 'mallory-password' };
export const ALICE = { username: 'alice', password: 'alice-password' };
export const MALLORY = { username: 'mallory', password: 'mallory-password' };
export const ATTACKER = 'https://attacker.invalid';

export interface SmallAppOptions {
  /** The session cookie's SameSite; `'unset'` for none at all. The default value is `'lax'`. */
  sameSite?: 'lax' | 'strict' | 'none' | 'unset';
  /** Runs ahead of the session (a parser, a CORS policy, a URL-id middleware). */
  before?: (app: express.Express) => void;
  /** Also parse urlencoded forms (the default parses JSON only). */
  forms?: boolean;
  /** express-session's `genid` (its default draws 24 random bytes). */
  genid?: () => string;
}

/** express-session, a start page that writes to the session, `/me` (401 without a user), `/logout`. */
export function smallApp(options: SmallAppOptions = {}): express.Express {
  const app = express();
  options.before?.(app);
  const sameSite = options.sameSite ?? 'lax';
  app.use(
    session({
      secret: SECRET,
      resave: false,
      saveUninitialized: false,
      ...(options.genid ? { genid: options.genid } : {}),
      cookie: { httpOnly: true, ...(sameSite === 'unset' ? {} : { sameSite }) },
    }),
  );
  app.use(express.json());
  if (options.forms) app.use(express.urlencoded({ extended: false }));
  app.get('/', (req, res) => {
    req.session.visits = (req.session.visits ?? 0) + 1;
    res.send('home');
  });
  app.get('/me', (req, res) => (req.session.user ? void res.json({ user: req.session.user }) : void res.status(401).json({ error: 'login' })));
  app.post('/logout', (req, res, next) => req.session.destroy((err) => (err ? next(err) : void res.clearCookie('connect.sid').status(204).end())));
  return app;
}

const CSRF_KEY = 'csrf-key';

/**
 * A CSRF token bound to no session (a nonce and its HMAC, as stateless token libraries make
 * them): valid for whoever presents it, so an attacker can read one on his own visit.
 */
export function unboundCsrfToken(): string {
  const nonce = randomBytes(8).toString('hex');
  return `${nonce}.${createHmac('sha256', CSRF_KEY).update(nonce).digest('hex')}`;
}

/** Whether `token` is one `unboundCsrfToken` made. */
export function isUnboundCsrfToken(token: unknown): boolean {
  return typeof token === 'string' && token.split('.')[1] === createHmac('sha256', CSRF_KEY).update(token.split('.')[0] ?? '').digest('hex');
}

/** The careful login of `username`: regenerate, then authenticate; 401 for bad credentials. */
export function logIn(req: express.Request, res: express.Response, next: express.NextFunction, username: unknown, password: unknown): void {
  if (typeof username !== 'string' || USERS[username] !== password) return void res.status(401).end();
  req.session.regenerate((err) => {
    if (err) return next(err);
    req.session.user = username;
    res.status(204).end();
  });
}

/** `logIn` from a JSON or form body `{ username, password }`. */
export const regenerateLogin: RequestHandler = (req, res, next) => {
  const { username, password } = (req.body ?? {}) as { username?: unknown; password?: unknown };
  logIn(req, res, next, username, password);
};

/** Runs `run` against `app` listening on a free loopback port, then closes it. */
export async function served<T>(app: express.Express, run: (url: string) => Promise<T>): Promise<T> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    return await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

/** The suite against `app`, logging in as alice, with `only` those attacks (all without). */
export function attackApp(app: express.Express, only?: FixationAttackId[], extra: Partial<FixationAttackOptions> = {}): Promise<FixationReport> {
  return served(app, (url) => runFixationAttacks(url, { loginBody: ALICE, entropySamples: 16, ...(only ? { only } : {}), ...extra }));
}

/** The `name=value` of a response's first Set-Cookie. */
export const cookieOf = (res: Response): string => res.headers.get('set-cookie')?.split(';')[0] ?? '';
