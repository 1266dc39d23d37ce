/**
 * The shape of express's own `examples/auth`: a form login that calls
 * `req.session.regenerate` (or, with `regenerate: false`, forgets to), a GET logout link, a
 * `GET /` that only redirects (no session), and a restricted page that writes a flash message
 * into the session before redirecting to the login. express-session as stock as it comes:
 * MemoryStore, `resave: false`, `saveUninitialized: false`, the default cookie.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';

declare module 'express-session' {
  interface SessionData {
    authUser?: { name: string };
    error?: string;
    success?: string;
  }
}

const USERS = new Map([['tj', 'foobar']]);

export function createExpressAuthApp(options: { regenerate: boolean }) {
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(session({ resave: false, saveUninitialized: false, secret: 'shhhh, very secret' }));

  // Session-persisted message middleware, as in the example.
  app.use(function messages(req: Request, res: Response, next: NextFunction) {
    const err = req.session.error;
    const msg = req.session.success;
    delete req.session.error;
    delete req.session.success;
    res.locals.message = err ? `<p class="msg error">${err}</p>` : msg ? `<p class="msg success">${msg}</p>` : '';
    next();
  });

  function restrict(req: Request, res: Response, next: NextFunction) {
    if (req.session.authUser) return next();
    req.session.error = 'Access denied!';
    res.redirect('/login');
  }

  app.get('/', (_req, res) => res.redirect('/login'));
  app.get('/restricted', restrict, (_req, res) => res.send('Wahoo! restricted area, click to <a href="/logout">logout</a>'));
  app.get('/logout', (req, res) => {
    // destroy the user's session to log them out; will be re-created next request
    req.session.destroy(() => res.redirect('/'));
  });
  app.get('/login', (_req, res) => {
    res.send(`<!doctype html><h1>Login</h1>${res.locals.message as string}
<form method="post" action="/login"><input type="text" name="username"><input type="password" name="password"><input type="submit" value="Login"></form>`);
  });
  app.post('/login', (req, res) => {
    const { username, password } = (req.body ?? {}) as { username?: string; password?: string };
    if (!username || USERS.get(username) !== password) {
      req.session.error = 'Authentication failed, please check your username and password.';
      return void res.redirect('/login');
    }
    const logIn = () => {
      req.session.authUser = { name: username };
      req.session.success = `Authenticated as ${username}`;
      res.redirect('/restricted');
    };
    // Regenerate session when signing in to prevent fixation (the example's own comment).
    if (options.regenerate) req.session.regenerate(logIn);
    else logIn();
  });
  return app;
}
