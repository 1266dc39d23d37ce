/**
 * Login CSRF: fixation's twin. Instead of planting a pre-login id, the attacker plants a whole
 * login — his own account, through a form on his page that the victim's browser submits — and
 * reads whatever the victim then types into "their" account.
 */
import { idHash } from '../cookies.js';
import { CS, fail, pass, standard, type AttackDefinition } from './define.js';

/** A page on a site the attacker owns (`.invalid` can never be anybody's). */
const ATTACKER_ORIGIN = 'https://attacker.invalid';

/** What a current browser sends with a form that a page of another site auto-submits. */
const CROSS_SITE_FORM_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  origin: ATTACKER_ORIGIN,
  referer: `${ATTACKER_ORIGIN}/win-a-prize`,
  'sec-fetch-site': 'cross-site',
  'sec-fetch-mode': 'navigate',
  'sec-fetch-dest': 'document',
});

export const loginCsrf: AttackDefinition = {
  id: 'login-csrf',
  title: 'A login sent from another site does not leave an authenticated session in the browser.',
  method:
    "A page on the attacker's site auto-submits the login with the attacker's credentials, as a browser sends it (Origin and Referer of that site, Sec-Fetch-Site: cross-site, and no cookie: SameSite keeps the victim's back, and does not stop the response's cookie from being stored); the login must be refused, or its cookie must not open the protected path.",
  standard: standard(['4.2.2'], ['3.5.1'], [CS.sameSite]),
  // The attacker fixes his own authenticated session in the victim's browser.
  class: 'fixation',
  severity: 'high',
  async run(ctx) {
    const { loginPath, loginEncoding, protectedPath } = ctx.options;
    if (loginEncoding === 'json') {
      ctx.note(
        'the login is JSON: a plain cross-site form cannot send application/json (that needs a CORS preflight), so a browser only falls to this if the app also takes form or text/plain bodies at the login; the server-side check is judged all the same',
      );
    }
    // Sent by hand, not through ctx.login: the attacker's page can read no CSRF token of the
    // victim's session, so none is sent (a token check that refuses it is a pass).
    const login = await ctx.send("victim's browser submits the attacker's login form from another site", {
      method: 'POST',
      path: loginPath,
      headers: { ...CROSS_SITE_FORM_HEADERS, ...(loginEncoding === 'json' ? {} : { 'content-type': 'application/x-www-form-urlencoded' }) },
      ...(loginEncoding === 'json' ? { json: ctx.options.loginBody } : { body: new URLSearchParams(ctx.options.loginBody as Record<string, string>).toString() }),
    });
    const status = login.response.status;
    if (!login.issued) {
      return pass(`POST ${loginPath} from ${ATTACKER_ORIGIN} answered ${status} and set no session cookie: the victim's browser holds no session of the attacker's account.`);
    }
    ctx.track(login.issued);
    const opened = await ctx.authenticated("victim's browser opens the protected page with the cookie it was given", login.issued);
    if (opened.ok) {
      return fail(
        `POST ${loginPath} from ${ATTACKER_ORIGIN} (Sec-Fetch-Site: cross-site) answered ${status} with the session cookie ${idHash(login.issued.id)}, which opens ${protectedPath} (${opened.status}): the victim's browser is now logged in to the attacker's account.`,
      );
    }
    return pass(`POST ${loginPath} from ${ATTACKER_ORIGIN} answered ${status}; the cookie it set (${idHash(login.issued.id)}) does not open ${protectedPath} (${opened.status}).`);
  },
};
