/**
 * `import 'fixation-guard/request-methods'`: installs `req.login`, `req.logout`, `req.elevate`
 * and `req.logoutEverywhere` (promise-returning twins of `req.sessionGuard.login` & co.) for
 * every `sessionGuard()` of the process, and declares their types.
 *
 * For apps without passport. passport declares and installs its own callback-style
 * `req.login` / `req.logout`: with passport, use `guarded(req).login()` and leave this out,
 * or the two declarations merge and `await req.login(id)` type-checks but runs passport's.
 *
 * @example
 * import 'fixation-guard/request-methods';
 * app.post('/login', async (req, res) => { await req.login(user.id); res.json({ user: user.id }); });
 */
import type { ElevateOptions, LoginOptions } from '../guard/request-api.js';
import { enableRequestMethods } from '../guard/request-methods.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /**
       * Authenticates `principal` on this session: rotates the id per the strategy, binds,
       * indexes and saves before resolving (`req.sessionGuard.login`).
       */
      login(principal: string, options?: LoginOptions): Promise<void>;
      /** Ends this session server-side and clears the cookie (`req.sessionGuard.logout`). */
      logout(): Promise<void>;
      /** A privilege change: rotates the id, keeps the authentication (`req.sessionGuard.elevate`). */
      elevate(options?: ElevateOptions): Promise<void>;
      /** Ends every session of the current principal, this one included (`req.sessionGuard.logoutEverywhere`). */
      logoutEverywhere(): Promise<number>;
    }
  }
}

enableRequestMethods();
