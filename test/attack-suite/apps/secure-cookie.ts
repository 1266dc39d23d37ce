/**
 * A production-shaped express-session app: the cookie is Secure and Express trusts its TLS
 * proxy, so over plain http:// the server never sends the cookie at all.
 */
import express from 'express';
import session from 'express-session';

declare module 'express-session' {
  interface SessionData {
    secureUser?: string;
    visits?: number;
  }
}

export function createSecureCookieApp() {
  const app = express();
  app.set('trust proxy', 1);
  app.use(session({ secret: 'secure cookie secret', resave: false, saveUninitialized: false, cookie: { secure: true, httpOnly: true, sameSite: 'lax' } }));
  app.use(express.json());
  app.get('/', (req, res) => {
    req.session.visits = (req.session.visits ?? 0) + 1;
    res.json({ visits: req.session.visits });
  });
  app.post('/login', (req, res, next) => {
    const { username, password } = (req.body ?? {}) as { username?: string; password?: string };
    if (username !== 'alice' || password !== 'alice-password') return void res.status(401).end();
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.secureUser = username;
      res.json({ user: username });
    });
  });
  app.get('/me', (req, res) => (req.session.secureUser ? res.json({ user: req.session.secureUser }) : res.status(401).end()));
  app.post('/logout', (req, res, next) => req.session.destroy((err) => (err ? next(err) : res.status(204).end())));
  return app;
}
