/**
 * A JSON login app whose logout never answers (a handler that forgets to respond), and that
 * counts the logout requests it receives, so a test can tell a skipped route from a hung one.
 */
import express from 'express';
import session from 'express-session';

declare module 'express-session' {
  interface SessionData {
    hangUser?: string;
    visits?: number;
  }
}

export function createHangingLogoutApp() {
  const app = express();
  const seen = { logout: 0 };
  app.use(session({ secret: 'hanging logout secret', resave: false, saveUninitialized: false, cookie: { httpOnly: true, sameSite: 'lax' } }));
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
      req.session.hangUser = username;
      res.json({ user: username });
    });
  });
  app.get('/me', (req, res) => (req.session.hangUser ? res.json({ user: req.session.hangUser }) : res.status(401).end()));
  app.post('/logout', () => {
    seen.logout++;
    // never answers
  });
  return { app, seen };
}
