/**
 * The example's HTML pages, under /account: a login form, an account page, "your devices"
 * (the session index: list, revoke one, log out everywhere) and logout. Plain HTML and a
 * little CSS, no script. Every form is form-encoded and carries a csrf-csrf token (double
 * submit, bound to the session id) on top of the guard's own login-CSRF check: the token also
 * covers browsers too old to send `Origin` or `Sec-Fetch-Site`.
 */
import { createHmac } from 'node:crypto';
import { doubleCsrf, type DoubleCsrfUtilities } from 'csrf-csrf';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { guarded, type SessionGuardMiddleware, type SessionSummary } from '../../src/index.js';

export interface PagesOptions {
  guard: SessionGuardMiddleware;
  secret: string;
  checkPassword(username: unknown, password: unknown): username is string;
  /** csrf-csrf tokens on the forms. `false` leaves the guard's own login-CSRF check alone (tests). The default value is `true`. */
  csrfTokens?: boolean;
}

const ENDED_MESSAGES: Record<string, string> = {
  revoked: 'This device was signed out from another device.',
  logout_everywhere: 'You were signed out everywhere.',
  evicted: 'This device was signed out: the account signed in on too many devices.',
  idle_timeout: 'You were signed out after 30 minutes without activity.',
  absolute_timeout: 'Your session reached its maximum age; please sign in again.',
  credentials_changed: 'Your password changed; please sign in again.',
  logout: 'You signed out.',
};

const CSS = `
  :root { color-scheme: light; --ink: #1d2330; --muted: #5c6475; --line: #dde1e8; --accent: #2457c5; --bad: #b42318; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: #f5f6f8; }
  header { background: #fff; border-bottom: 1px solid var(--line); padding: 12px 24px; display: flex; gap: 24px; align-items: center; }
  header strong { font-size: 18px; }
  header nav { display: flex; gap: 16px; flex: 1; }
  header form { margin: 0; }
  a { color: var(--accent); }
  main { max-width: 760px; margin: 32px auto; padding: 0 24px; }
  .card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 24px; }
  h1 { font-size: 24px; margin: 0 0 16px; }
  label { display: block; margin: 12px 0 4px; font-weight: 600; }
  input[type=text], input[type=password] { width: 100%; padding: 8px 10px; border: 1px solid var(--line); border-radius: 6px; font: inherit; }
  button { white-space: nowrap; font: inherit; padding: 6px 14px; border-radius: 6px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; }
  button.quiet { background: #fff; color: var(--accent); }
  button.danger { background: #fff; color: var(--bad); border-color: var(--bad); }
  .notice { background: #eef3fd; border: 1px solid #c9d8f6; padding: 10px 14px; border-radius: 6px; margin-bottom: 16px; }
  .error { background: #fdf0ef; border-color: #f3c8c4; color: var(--bad); }
  table { width: 100%; border-collapse: collapse; }
  th, td { text-align: left; padding: 10px 8px; border-bottom: 1px solid var(--line); vertical-align: middle; }
  th { font-size: 13px; color: var(--muted); font-weight: 600; }
  td form { margin: 0; }
  td.when { white-space: nowrap; }
  .this { display: inline-block; font-size: 12px; background: #e7f6ec; color: #18794e; border-radius: 10px; padding: 1px 8px; margin-left: 6px; }
  .muted { color: var(--muted); font-size: 14px; }
  .actions { margin-top: 20px; display: flex; gap: 12px; }
`;

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string, nav = ''): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · fixation-guard example</title><style>${CSS}</style></head>
<body><header><strong>fixation-guard example</strong>${nav}</header><main>${body}</main></body>
</html>`;
}

/** "Chrome on Linux" from a User-Agent: enough to recognise one's devices, nothing more. */
export function describeDevice(userAgent: string | undefined): string {
  if (!userAgent) return 'Unknown device';
  const browser = /Edg\//.test(userAgent)
    ? 'Edge'
    : /Firefox\//.test(userAgent)
      ? 'Firefox'
      : /Chrom(e|ium)\//.test(userAgent)
        ? /HeadlessChrome/.test(userAgent) ? 'Headless Chrome' : 'Chrome'
        : /Safari\//.test(userAgent)
          ? 'Safari'
          : /^curl\//.test(userAgent)
            ? 'curl'
            : 'A browser';
  const os = /Android/.test(userAgent)
    ? 'Android'
    : /iPhone|iPad/.test(userAgent)
      ? 'iOS'
      : /Windows/.test(userAgent)
        ? 'Windows'
        : /Mac OS X/.test(userAgent)
          ? 'macOS'
          : /Linux/.test(userAgent)
            ? 'Linux'
            : undefined;
  return os ? `${browser} on ${os}` : browser;
}

function when(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}

/** The one cookie csrf-csrf reads (`req.cookies`), without a cookie-parser dependency. */
function readCookies(req: Request, _res: Response, next: NextFunction): void {
  const cookies: Record<string, string> = {};
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim();
    if (!name.includes('x-csrf-token') || name in cookies) continue;
    try {
      cookies[name] = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      // A malformed value is no token.
    }
  }
  (req as Request & { cookies: Record<string, string> }).cookies = cookies;
  next();
}

/**
 * csrf-csrf twice: a `__Host-` Secure token cookie over https, a plain one over plain HTTP
 * (development), chosen per request like the session cookie's mode.
 */
function csrfFor(secret: string): (req: Request) => DoubleCsrfUtilities {
  const csrfSecret = createHmac('sha256', secret).update('fixation-guard example csrf-csrf').digest('base64url');
  const make = (secure: boolean) =>
    doubleCsrf({
      getSecret: () => csrfSecret,
      // Bound to the session: a token from the attacker's own visit is useless in the victim's browser.
      getSessionIdentifier: (req) => req.sessionID ?? '',
      cookieName: secure ? '__Host-example.x-csrf-token' : 'example.x-csrf-token',
      cookieOptions: { sameSite: 'strict', secure, path: '/', httpOnly: true },
      getCsrfTokenFromRequest: (req) => (req.body as { _csrf?: unknown } | undefined)?._csrf as string | undefined,
    });
  const secure = make(true);
  const plain = make(false);
  return (req) => (req.secure ? secure : plain);
}

export function accountPages(options: PagesOptions): Router {
  const { guard, checkPassword } = options;
  const csrf = csrfFor(options.secret);
  const router = express.Router();
  router.use(readCookies, express.urlencoded({ extended: false, limit: '10kb' }));

  // One token per response: a second generateCsrfToken would set a second cookie and orphan the first token.
  const tokens = new WeakMap<Request, string>();
  function token(req: Request, res: Response): string {
    let value = tokens.get(req);
    if (value === undefined) {
      value = escapeHtml(csrf(req).generateCsrfToken(req, res));
      tokens.set(req, value);
    }
    return value;
  }
  function checkCsrf(req: Request, res: Response, next: NextFunction): void {
    if (options.csrfTokens === false) return next();
    csrf(req).doubleCsrfProtection(req, res, (err?: unknown) => {
      if (!err) return next();
      res.status(403).type('html').send(page('Form expired', `<div class="card"><h1>This form has expired</h1><p>It was sent without this site's form token (or from another site). <a href="/account/login">Start again</a>.</p></div>`));
    });
  }
  const nav = (req: Request) =>
    `<nav><a href="/account">Account</a><a href="/account/devices">Your devices</a></nav>` +
    `<form method="post" action="/account/logout"><input type="hidden" name="_csrf" value="${token(req, req.res as Response)}"><button class="quiet" type="submit">Log out</button></form>`;

  /** Sends a visitor without a session to the login form, saying why the session ended. */
  function signedIn(req: Request, res: Response): string | undefined {
    const principal = req.sessionGuard?.principal;
    if (principal) return principal;
    const ended = req.sessionGuard?.endedReason;
    res.redirect(303, `/account/login${ended && ENDED_MESSAGES[ended] ? `?ended=${encodeURIComponent(ended)}` : ''}`);
    return undefined;
  }

  function loginForm(req: Request, res: Response, status: number, message?: { text: string; error?: boolean }): void {
    // The form's token is bound to this session id: the session must exist when the form comes back.
    req.session.visits = (req.session.visits ?? 0) + 1;
    const notice = message ? `<p class="notice${message.error ? ' error' : ''}" role="${message.error ? 'alert' : 'status'}">${escapeHtml(message.text)}</p>` : '';
    res.status(status).type('html').send(
      page(
        'Sign in',
        `<div class="card"><h1>Sign in</h1>${notice}
<form method="post" action="/account/login">
  <input type="hidden" name="_csrf" value="${token(req, res)}">
  <label for="username">Username</label><input id="username" name="username" type="text" autocomplete="username" required>
  <label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
  <div class="actions"><button type="submit">Sign in</button></div>
</form>
<p class="muted">Demo accounts: alice / alice-password, bob / bob-password.</p></div>`,
      ),
    );
  }

  router.get('/login', (req, res) => {
    if (req.sessionGuard?.authenticated) return void res.redirect(303, '/account');
    const ended = typeof req.query.ended === 'string' ? ENDED_MESSAGES[req.query.ended] : undefined;
    loginForm(req, res, 200, ended ? { text: ended } : undefined);
  });

  router.post('/login', checkCsrf, async (req, res, next) => {
    try {
      const { username, password } = (req.body ?? {}) as { username?: unknown; password?: unknown };
      if (!checkPassword(username, password)) return void loginForm(req, res, 401, { text: 'Unknown user or wrong password.', error: true });
      const userAgent = req.get('user-agent');
      await guarded(req).login(username, { meta: { device: describeDevice(userAgent), userAgent: (userAgent ?? '').slice(0, 200) } });
      res.redirect(303, '/account');
    } catch (err) {
      next(err);
    }
  });

  router.get('/', (req, res) => {
    const user = signedIn(req, res);
    if (!user) return;
    const since = req.sessionGuard?.state?.authAt;
    res.type('html').send(
      page(
        'Account',
        `<div class="card"><h1>Hello, <span id="user">${escapeHtml(user)}</span></h1>
<p>You are signed in${since ? ` since ${escapeHtml(when(since))}` : ''}. The session cookie is <code>HttpOnly</code>: no script on this page can read it.</p>
<p><a href="/account/devices">See the devices signed in to your account</a></p></div>`,
        nav(req),
      ),
    );
  });

  router.get('/devices', async (req, res, next) => {
    try {
      const user = signedIn(req, res);
      if (!user) return;
      const sessions: SessionSummary[] = await guard.listSessions(user);
      const current = req.sessionGuard?.sessionHandle;
      const csrfToken = token(req, res);
      const rows = sessions
        .map((s) => {
          const mine = s.handle === current;
          const device = s.meta?.device ?? 'Unknown device';
          return `<tr data-handle="${escapeHtml(s.handle)}"${mine ? ' data-this-device' : ''}>
  <td title="${escapeHtml(s.meta?.userAgent ?? '')}">${escapeHtml(device)}${mine ? '<span class="this">this device</span>' : ''}</td>
  <td class="when">${escapeHtml(when(s.createdAt))}</td><td class="when">${escapeHtml(when(s.lastSeenAt))}</td>
  <td><form method="post" action="/account/devices/revoke"><input type="hidden" name="_csrf" value="${csrfToken}"><input type="hidden" name="handle" value="${escapeHtml(s.handle)}"><button class="danger" type="submit">${mine ? 'Log out' : 'Revoke'}</button></form></td>
</tr>`;
        })
        .join('\n');
      res.type('html').send(
        page(
          'Your devices',
          `<div class="card"><h1>Your devices</h1>
<p class="muted">Every session signed in as ${escapeHtml(user)}. Revoking one ends it on that device at its next request.</p>
<table><thead><tr><th>Device</th><th>Signed in</th><th>Last seen</th><th></th></tr></thead><tbody>
${rows}
</tbody></table>
<div class="actions"><form method="post" action="/account/devices/logout-all"><input type="hidden" name="_csrf" value="${csrfToken}"><button class="danger" type="submit">Log out everywhere</button></form></div></div>`,
          nav(req),
        ),
      );
    } catch (err) {
      next(err);
    }
  });

  router.post('/devices/revoke', checkCsrf, async (req, res, next) => {
    try {
      const user = signedIn(req, res);
      if (!user) return;
      const handle = (req.body as { handle?: unknown }).handle;
      if (typeof handle === 'string' && handle === req.sessionGuard?.sessionHandle) {
        await guarded(req).logout();
        return void res.redirect(303, '/account/login?ended=logout');
      }
      if (typeof handle === 'string') await guard.revokeSession(user, handle);
      res.redirect(303, '/account/devices');
    } catch (err) {
      next(err);
    }
  });

  router.post('/devices/logout-all', checkCsrf, async (req, res, next) => {
    try {
      if (!signedIn(req, res)) return;
      await guarded(req).logoutEverywhere();
      res.redirect(303, '/account/login?ended=logout_everywhere');
    } catch (err) {
      next(err);
    }
  });

  router.post('/logout', checkCsrf, async (req, res, next) => {
    try {
      await guarded(req).logout();
      res.redirect(303, '/account/login?ended=logout');
    } catch (err) {
      next(err);
    }
  });

  // The guard's refusals as pages: a cross-site login (403), an outage (503), a conflict (409).
  router.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    const status = (err as { status?: unknown }).status;
    const code = (err as { code?: unknown }).code;
    if (typeof status !== 'number' || typeof code !== 'string' || res.headersSent) return next(err);
    const text =
      code === 'SESSION_CROSS_SITE_LOGIN'
        ? 'This sign-in came from a page on another site, so it was refused. Sign in from this site instead.'
        : status >= 500
          ? 'Something went wrong; please try again shortly.'
          : (err as Error).message;
    res.status(status).type('html').send(page('Refused', `<div class="card"><h1>Refused</h1><p class="notice error" role="alert" data-code="${escapeHtml(code)}">${escapeHtml(text)}</p><p><a href="/account/login">Sign in</a></p></div>`));
  });
  return router;
}
