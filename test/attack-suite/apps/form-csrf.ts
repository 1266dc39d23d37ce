/**
 * The shape of passport's `todos-express-password` login: a server-rendered form whose hidden
 * `_csrf` input carries a csurf-style token (a per-session secret in the session, a salted
 * HMAC per page), checked on every POST (login and logout alike, 403 without it), a form
 * login that regenerates the session, a POST logout. The token is the one csurf makes
 * (`salt-base64url(sha256(salt-secret))`), without the deprecated package.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';

declare module 'express-session' {
  interface SessionData {
    csrfSecret?: string;
    formUser?: string;
  }
}

const USERS = new Map([['alice', 'letmein']]);

function tokenFor(secret: string, salt = randomBytes(6).toString('hex')): string {
  return `${salt}-${createHash('sha256').update(`${salt}-${secret}`).digest('base64url')}`;
}

function validToken(secret: string, token: unknown): boolean {
  if (typeof token !== 'string' || !token.includes('-')) return false;
  const expected = Buffer.from(tokenFor(secret, token.slice(0, token.indexOf('-'))));
  const given = Buffer.from(token);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

export function createFormCsrfApp() {
  const app = express();
  app.use(session({ secret: 'keyboard cat', resave: false, saveUninitialized: false, cookie: { httpOnly: true } }));
  app.use(express.urlencoded({ extended: false }));
  // csurf: a secret per session, created on first use; every unsafe method needs a token.
  app.use(function csrf(req: Request, res: Response, next: NextFunction) {
    req.session.csrfSecret ??= randomBytes(18).toString('base64url');
    const secret = req.session.csrfSecret;
    res.locals.csrfToken = tokenFor(secret);
    if (['GET', 'HEAD', 'OPTIONS'].includes(req.method)) return next();
    const token = (req.body as Record<string, unknown> | undefined)?._csrf ?? req.headers['csrf-token'] ?? req.headers['x-csrf-token'];
    if (!validToken(secret, token)) return void res.status(403).send('invalid csrf token');
    next();
  });

  const page = (res: Response, body: string) =>
    res.send(`<!doctype html><html><head><meta charset="utf-8"><title>todos</title></head><body>${body}</body></html>`);
  app.get('/', (req, res) => page(res, req.session.formUser ? `<p>Hi ${req.session.formUser}</p>` : '<a href="/login">Sign in</a>'));
  app.get('/login', (_req, res) =>
    page(
      res,
      `<form action="/login/password" method="post">
  <input id="username" name="username" type="text" autocomplete="username" required>
  <input id="current-password" name="password" type="password" autocomplete="current-password" required>
  <input type="hidden" name="_csrf" value="${res.locals.csrfToken as string}">
  <button type="submit">Sign in</button>
</form>`,
    ),
  );
  app.post('/login/password', (req, res, next) => {
    const { username, password } = req.body as { username?: string; password?: string };
    if (!username || USERS.get(username) !== password) return void res.redirect('/login');
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.formUser = username;
      res.redirect('/');
    });
  });
  app.get('/todos', (req, res) => {
    if (!req.session.formUser) return void res.redirect('/login');
    page(res, `<ul></ul><form action="/logout" method="post"><input type="hidden" name="_csrf" value="${res.locals.csrfToken as string}"><button>Sign out</button></form>`);
  });
  app.post('/logout', (req, res, next) => {
    req.session.destroy((err) => (err ? next(err) : res.redirect('/')));
  });
  return app;
}
