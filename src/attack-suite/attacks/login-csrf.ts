/**
 * Login CSRF: fixation's twin. Instead of planting a pre-login id, the attacker plants a whole
 * login — his own account, through a form on his page that the victim's browser submits — and
 * reads whatever the victim then types into "their" account.
 */
import { idHash, type SessionCookie } from '../cookies.js';
import { CS, fail, pass, standard, type AttackDefinition } from './define.js';

/** A page on a site the attacker owns (`.invalid` can never be anybody's). */
const ATTACKER_ORIGIN = 'https://attacker.invalid';

/** What a current browser sends with a form that a page of another site auto-submits. */
const CROSS_SITE_FORM_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  origin: ATTACKER_ORIGIN,
  // No Referer: the attacker's page drops it (referrerpolicy="no-referrer"), for an app that
  // refuses another site's Referer but lets a request without one through.
  'sec-fetch-site': 'cross-site',
  'sec-fetch-mode': 'navigate',
  'sec-fetch-dest': 'document',
});

/** What it sends with a `fetch` of that page (a CORS request). */
const CROSS_SITE_FETCH_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  ...CROSS_SITE_FORM_HEADERS,
  'sec-fetch-mode': 'cors',
  'sec-fetch-dest': 'empty',
});

/**
 * A login as the attacker's page can send it, and how: a GET `navigation` (to `path`, the fields
 * in its query), a `form` POST or a `fetch` POST (which cookies go with it, and which it keeps,
 * follow from the kind).
 */
interface CrossSiteLogin {
  kind: 'navigation' | 'form' | 'fetch';
  how: string;
  headers: Record<string, string>;
  body?: string;
  json?: unknown;
  path?: string;
}

/**
 * The login body as a form's fields: strings as they are, nested objects and arrays in the
 * bracket notation a form uses for them (`user[email]`, `roles[0]`), which `qs` (express's
 * `urlencoded({ extended: true })`) and Rails read back as the nested body.
 */
function formFields(body: unknown, prefix = ''): Array<[string, string]> {
  if (typeof body !== 'object' || body === null) return prefix === '' ? [] : [[prefix, String(body)]];
  const fields: Array<[string, string]> = [];
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    const name = prefix === '' ? key : `${prefix}[${key}]`;
    if (typeof value === 'object' && value !== null) fields.push(...formFields(value, name));
    else fields.push([name, value === undefined ? '' : String(value)]);
  }
  return fields;
}

/** A `multipart/form-data` body of those fields, as a form with that enctype sends it. */
function multipartBody(fields: Array<[string, string]>, boundary: string): string {
  const parts = fields.map(([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${name.replace(/"/g, '%22')}"\r\n\r\n${value}\r\n`);
  return `${parts.join('')}--${boundary}--\r\n`;
}

/** A browser sends no `Origin` with a GET navigation. */
function withoutOrigin(headers: Readonly<Record<string, string>>): Record<string, string> {
  const { origin: _origin, ...rest } = headers;
  return rest;
}

/** The origins the attacker's page can send from: his site, and `null` (a sandboxed iframe of it). */
const ATTACKER_ORIGINS: readonly string[] = [ATTACKER_ORIGIN, 'null'];

/** Whether a preflight's answer lets `origin` send a credentialed JSON POST (for credentials, `*` is no wildcard). */
function corsGrantsJson(headers: Record<string, string | string[] | undefined>, origin: string): boolean {
  const allowedHeaders = String(headers['access-control-allow-headers'] ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase());
  return headers['access-control-allow-origin'] === origin && headers['access-control-allow-credentials'] === 'true' && allowedHeaders.includes('content-type');
}

export const loginCsrf: AttackDefinition = {
  id: 'login-csrf',
  title: 'A login sent from another site does not leave an authenticated session in the browser.',
  method:
    "A page on the attacker's site submits the login with the attacker's credentials (and a CSRF token he read on his own visit, when the app uses them), as a browser can send it (Origin of that site on a POST, no Referer, Sec-Fetch-Site: cross-site, the victim's own session cookie only where its SameSite lets a browser send it, none of the extra headers the suite was given): a GET navigation with the fields in the query (a link, or a form with method=GET), a form (urlencoded and multipart, nested fields in bracket notation; for a JSON login also text/plain carrying the JSON, which a form can send), and JSON only when the login's CORS preflight lets that site (or a sandboxed frame of it, Origin: null) send it with credentials and a Content-Type, counting its cookie only when a browser would store it from a fetch (not SameSite=Lax or Strict). Each must be refused, or the cookie the browser then holds must not open the protected path.",
  standard: standard(['4.2.2'], ['3.5.1'], [CS.sameSite]),
  // The attacker fixes his own authenticated session in the victim's browser.
  class: 'fixation',
  severity: 'high',
  async run(ctx) {
    const { loginPath, loginEncoding, loginBody, protectedPath } = ctx.options;
    // Sent by hand, not through ctx.login: the attacker's page cannot read the victim's CSRF
    // token. A token bound to no session, though, he reads on his own visit and puts in his form.
    const csrf = ctx.facts.csrf;
    let body: Record<string, unknown> = loginBody;
    if (csrf && csrf.to.kind === 'field') {
      const { token } = await ctx.csrfToken("attacker reads a CSRF token on his own visit (his page can send it in a form field)", undefined);
      if (token !== undefined) body = { ...loginBody, [csrf.to.name]: token };
    }
    // The victim's browser sends its own session cookie with the attacker's request where
    // SameSite lets it: a top-level GET unless Strict; a POST only without SameSite (Firefox,
    // Safari) or with None; a fetch with credentials with None. An app that logs in only a
    // browser that already has a session is then logged in all the same.
    const victim = ctx.facts.anonymousSessions ? await ctx.anonymous("the victim's browser already has a session of the site") : undefined;
    const victimSameSite = victim?.attributes?.get('samesite')?.toLowerCase();
    const sentWith = (kind: CrossSiteLogin['kind']): SessionCookie[] => {
      if (!victim) return [];
      if (kind === 'navigation') return victimSameSite === 'strict' ? [] : [victim];
      if (kind === 'form') return victimSameSite === undefined || victimSameSite === 'none' ? [victim] : [];
      return victimSameSite === 'none' ? [victim] : [];
    };
    const fields = formFields(body);
    const urlencoded = new URLSearchParams(fields).toString();
    const boundary = `----attackerFormBoundary${Date.now().toString(36)}`;
    const attempts: CrossSiteLogin[] = [
      // A link, or a form with method=GET: a top-level navigation, whose cookie even SameSite=Lax lets in.
      { kind: 'navigation', how: 'a GET navigation carrying the fields in the query', path: `${loginPath}${loginPath.includes('?') ? '&' : '?'}${urlencoded}`, headers: withoutOrigin(CROSS_SITE_FORM_HEADERS) },
      { kind: 'form', how: 'a urlencoded form', headers: { ...CROSS_SITE_FORM_HEADERS, 'content-type': 'application/x-www-form-urlencoded' }, body: urlencoded },
      { kind: 'form', how: 'a multipart form', headers: { ...CROSS_SITE_FORM_HEADERS, 'content-type': `multipart/form-data; boundary=${boundary}` }, body: multipartBody(fields, boundary) },
    ];
    if (loginEncoding === 'json') {
      // A form cannot send application/json (a page's fetch of it needs a CORS preflight), but
      // `enctype="text/plain"` sends a body that is the JSON, for a server that parses it anyway.
      attempts.push({ kind: 'form', how: 'a text/plain form carrying the JSON', headers: { ...CROSS_SITE_FORM_HEADERS, 'content-type': 'text/plain' }, body: JSON.stringify(body) });
      let granted = false;
      for (const origin of ATTACKER_ORIGINS) {
        const preflight = await ctx.send(`attacker's page (Origin: ${origin}) asks whether it may send the JSON login (CORS preflight)`, {
          method: 'OPTIONS',
          path: loginPath,
          headers: { ...CROSS_SITE_FETCH_HEADERS, origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
          crossSite: true,
        });
        if (!corsGrantsJson(preflight.response.headers, origin)) continue;
        granted = true;
        attempts.push({ kind: 'fetch', how: `a JSON fetch with credentials from Origin ${origin}, which the CORS policy allows`, headers: { ...CROSS_SITE_FETCH_HEADERS, origin }, json: body });
      }
      if (!granted) ctx.note('the login is JSON and its CORS policy does not let another site send it with credentials: only what a form can send was tried');
    }
    const refused: string[] = [];
    for (const attempt of attempts) {
      const carried = sentWith(attempt.kind);
      const method = attempt.kind === 'navigation' ? 'GET' : 'POST';
      const login = await ctx.send(`victim's browser submits the attacker's login from another site (${attempt.how})`, {
        method,
        path: attempt.path ?? loginPath,
        cookies: carried,
        headers: attempt.headers,
        ...(attempt.json === undefined ? { body: attempt.body } : { json: attempt.json }),
        crossSite: true,
      });
      const status = login.response.status;
      // The cookie the victim's browser holds afterwards: the one the response set, or the one it sent.
      let held = login.issued ?? (login.cleared ? undefined : carried[0]);
      if (login.issued) {
        ctx.track(login.issued);
        // The response to a page's fetch is no top-level navigation: a browser drops its
        // SameSite=Lax or Strict cookie (RFC 6265bis) and keeps the one it had.
        const sameSite = login.response.setCookies.find((c) => c.name === login.issued?.name)?.attributes.get('samesite')?.toLowerCase();
        if (attempt.kind === 'fetch' && (sameSite === 'lax' || sameSite === 'strict')) held = carried[0];
      }
      if (!held) {
        refused.push(`${attempt.how}: ${status}, no session cookie`);
        continue;
      }
      const opened = await ctx.authenticated("victim's browser opens the protected page with the cookie it now holds", held);
      if (opened.ok) {
        return fail(
          `${method} ${loginPath} from another site (Sec-Fetch-Site: cross-site, ${attempt.how}${carried.length > 0 ? ", carrying the victim's own cookie" : ''}) answered ${status}, and the session cookie ${idHash(held.id)} the browser then holds opens ${protectedPath} (${opened.status}): the victim's browser is now logged in to the attacker's account.`,
        );
      }
      refused.push(`${attempt.how}: ${status}, the cookie ${idHash(held.id)} does not open ${protectedPath} (${opened.status})`);
    }
    return pass(`No login sent to ${loginPath} from another site left the victim's browser with a session of the attacker's account (${refused.join('; ')}).`);
  },
};
