/**
 * A JSON API with a double-submit CSRF cookie, as an Angular front end expects it: csrf-csrf
 * sets `XSRF-TOKEN` (readable by the page) on every GET, bound to the session, and every POST
 * must echo it in `X-XSRF-TOKEN`. JSON login that regenerates the session, POST logout.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import { doubleCsrf } from 'csrf-csrf';

declare module 'express-session' {
  interface SessionData {
    apiUser?: string;
    csrfBound?: boolean;
  }
}

const USERS = new Map([['alice', 'alice-password']]);

export function createJsonDoubleSubmitApp() {
  const app = express();
  app.use(session({ name: 'api.sid', secret: 'json double submit secret', resave: false, saveUninitialized: false, cookie: { httpOnly: true, sameSite: 'lax' } }));
  // What cookie-parser would do, for csrf-csrf.
  app.use(function cookies(req: Request, _res: Response, next: NextFunction) {
    req.cookies = Object.fromEntries(
      (req.headers.cookie ?? '')
        .split(';')
        .map((pair) => pair.trim().split('='))
        .filter((pair) => pair.length >= 2)
        .map(([name, ...value]) => [name, decodeURIComponent(value.join('='))]),
    );
    next();
  });
  const { generateCsrfToken, doubleCsrfProtection } = doubleCsrf({
    getSecret: () => 'csrf-csrf test secret',
    getSessionIdentifier: (req) => req.session.id,
    cookieName: 'XSRF-TOKEN',
    cookieOptions: { httpOnly: false, secure: false, sameSite: 'lax' },
    getCsrfTokenFromRequest: (req) => req.headers['x-xsrf-token'] as string | undefined,
  });
  app.use(express.json());
  app.use(function issueToken(req: Request, res: Response, next: NextFunction) {
    if (req.method === 'GET') {
      // The token is bound to the session id, so the session must exist from now on.
      req.session.csrfBound = true;
      generateCsrfToken(req, res, { overwrite: true });
    }
    next();
  });
  app.use(doubleCsrfProtection);

  app.get('/', (req, res) => res.json({ user: req.session.apiUser ?? null }));
  app.post('/api/login', (req, res, next) => {
    const { email, password } = (req.body ?? {}) as { email?: string; password?: string };
    if (!email || USERS.get(email) !== password) return void res.status(401).json({ error: 'bad credentials' });
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.apiUser = email;
      res.json({ user: email });
    });
  });
  app.get('/api/me', (req, res) => {
    if (!req.session.apiUser) return void res.status(401).json({ error: 'not logged in' });
    res.json({ user: req.session.apiUser });
  });
  app.post('/api/logout', (req, res, next) => {
    req.session.destroy((err) => (err ? next(err) : res.status(204).end()));
  });
  app.use(function csrfErrors(err: unknown, _req: Request, res: Response, next: NextFunction) {
    if ((err as { code?: string }).code === 'EBADCSRFTOKEN') return void res.status(403).json({ error: 'invalid csrf token' });
    next(err);
  });
  return app;
}
