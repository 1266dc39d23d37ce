import type { NextFunction, Request, RequestHandler, Response } from 'express';
import helmet, { type HelmetOptions } from 'helmet';
import onHeaders from 'on-headers';
import { LOGGED_OUT } from '../guard/request-api.js';

/** Keeps `Origin` on the app's own POSTs (see `SecureHeadersOptions.helmet`); nothing reaches another site. */
export const DEFAULT_REFERRER_POLICY = { policy: 'same-origin' } as const;

export interface SecureHeadersOptions {
  /**
   * Passed to helmet; `false` leaves helmet out. The default value is helmet's defaults, except
   * `Referrer-Policy: same-origin` (helmet's is `no-referrer`): with `no-referrer`, a browser
   * without Fetch Metadata sends `Origin: null` from the app's own login form, which the
   * login-CSRF check must refuse. `same-origin` sends nothing to other sites either.
   */
  helmet?: HelmetOptions | false;
  /** `Cache-Control: no-store` on responses of authenticated sessions. The default value is `true`. */
  noStoreWhenAuthenticated?: boolean;
  /** `Clear-Site-Data: "cookies"` on the logout response. The default value is `true`. */
  clearSiteDataOnLogout?: boolean;
}

/**
 * helmet plus what sessions need and helmet does not do: a response rendered for a logged-in
 * user is never cached (a shared cache or the back button would show it to the next person),
 * and logout tells the browser to drop every cookie of the site (as Spring Security's
 * `ClearSiteDataHeaderWriter` can). Mount it before `sessionGuard()`.
 *
 * @example
 * app.use(secureHeaders());
 * app.use(sessionGuard({ secret }));
 */
export function secureHeaders(options: SecureHeadersOptions = {}): RequestHandler {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`secureHeaders: options must be an object; got ${JSON.stringify(options)}`);
  }
  const noStore = options.noStoreWhenAuthenticated ?? true;
  const clearSiteData = options.clearSiteDataOnLogout ?? true;
  const helmetMiddleware = options.helmet === false ? undefined : helmet({ referrerPolicy: DEFAULT_REFERRER_POLICY, ...options.helmet });

  function sessionHeaders(req: Request, res: Response): void {
    onHeaders(res, function sessionHeadersOnHeaders() {
      const loggedOut = (res as unknown as Record<symbol, boolean>)[LOGGED_OUT] === true;
      if (noStore && (loggedOut || req.sessionGuard?.authenticated)) {
        res.setHeader('Cache-Control', 'no-store');
        res.setHeader('Pragma', 'no-cache');
      }
      if (clearSiteData && loggedOut) res.setHeader('Clear-Site-Data', '"cookies"');
    });
  }

  return function secureHeadersMiddleware(req: Request, res: Response, next: NextFunction): void {
    sessionHeaders(req, res);
    if (helmetMiddleware) helmetMiddleware(req, res, next);
    else next();
  };
}
