import { randomBytes } from 'node:crypto';
import {
  cookieHeader,
  decodeCookieValue,
  guessSessionCookieName,
  idHash,
  isClearing,
  toSessionCookie,
  type SessionCookie,
  type SetCookie,
} from './cookies.js';
import { detectCsrf, describeCsrf, readCsrfToken } from './csrf.js';
import { AttackHttpClient, RequestTimeoutError, routeKey, type AttackTarget, type HeldRequest, type ReceivedResponse } from './http.js';
import type { ResolvedAttackOptions, ResolvedCsrf } from './options.js';
import type { EvidenceCookie, EvidenceRequest } from './types.js';

/** The app is not attackable as described: wrong path, wrong credentials, no session cookie. */
export class FixationAttackSetupError extends Error {
  override readonly name = 'FixationAttackSetupError';
}

/** Thrown inside an attack when it cannot run against this app; becomes `not-applicable`. */
export class NotApplicable extends Error {
  override readonly name = 'NotApplicable';
}

/** A request and what the suite read from its response. */
export interface Exchange {
  response: ReceivedResponse;
  /** The session cookie the response set (not a clearing one). */
  issued: SessionCookie | undefined;
  /** True when the response cleared the session cookie. */
  cleared: boolean;
}

export interface SendOptions {
  method: string;
  path: string;
  /** Session cookies to send, in order; duplicates are sent as given. */
  cookies?: readonly SessionCookie[];
  headers?: Record<string, string>;
  json?: unknown;
  body?: string;
  /** Other cookies to send after the session cookies (a CSRF cookie); not shown in the evidence. */
  extraCookies?: ReadonlyArray<{ name: string; value: string }>;
  /** Leave the request out of the evidence (bulk sampling). */
  quiet?: boolean;
  /** Sent as a page of another site sends it: without the extra headers the suite was given. */
  crossSite?: boolean;
}

/** A route only some attacks need: the probe and the clean-up use it only when a selected attack does. */
export type OptionalRoute = 'logout' | 'elevate' | 'logoutAll';

/** What the probe learnt about the app, shared by every attack of a run. */
export interface TargetFacts {
  cookieName: string;
  https: boolean;
  /** Whether a public request creates a session (a pre-login id exists to plant). */
  anonymousSessions: boolean;
  /**
   * Whether replaying a cookie on the start path tells a live id (kept) from a dead one (a
   * fresh id is issued). When false, `why` says why.
   */
  aliveCheck: { usable: true } | { usable: false; why: string };
  /** The CSRF token handling in force (given, or detected by the probe), or none. */
  csrf: ResolvedCsrf | undefined;
}

/** An attack was aborted because a route it needs hangs (see {@link RequestTimeoutError}). */
export class RouteAborted extends Error {
  override readonly name = 'RouteAborted';
}

/**
 * One run against one target: the HTTP client, the resolved options and the facts the probe
 * found. Attacks get an {@link AttackContext} each.
 */
export class AttackSession {
  readonly client: AttackHttpClient;
  readonly options: ResolvedAttackOptions;
  /** The optional routes the selected attacks use; the others are never requested. */
  readonly uses: ReadonlySet<OptionalRoute>;
  /** Routes that hung past the per-request timeout (`METHOD /path` → why): never requested again. */
  readonly deadRoutes = new Map<string, string>();
  facts!: TargetFacts;

  private constructor(client: AttackHttpClient, options: ResolvedAttackOptions, uses: ReadonlySet<OptionalRoute>) {
    this.client = client;
    this.options = options;
    this.uses = uses;
  }

  /** Opens the target and probes it; throws {@link FixationAttackSetupError} when it cannot be attacked. */
  static async open(target: AttackTarget, options: ResolvedAttackOptions, uses: ReadonlySet<OptionalRoute> = new Set(['logout', 'elevate', 'logoutAll'])): Promise<AttackSession> {
    const headers = { ...options.headers };
    const plainTransport = typeof target === 'function' || !/^https:/i.test(String(target));
    // An app behind a TLS-terminating proxy decides Secure from X-Forwarded-Proto.
    if (options.https && plainTransport) headers['x-forwarded-proto'] ??= 'https';
    const client = await AttackHttpClient.open(target, { timeoutMs: options.requestTimeoutMs, headers });
    const session = new AttackSession(client, options, uses);
    try {
      session.facts = await probe(session);
    } catch (err) {
      await client.close();
      if (err instanceof RequestTimeoutError || err instanceof RouteAborted) {
        throw new FixationAttackSetupError(
          `fixation attack suite: ${err.message} while probing the app, and the suite cannot run without that route; check the path, or raise ${options.name('requestTimeout')}.`,
        );
      }
      throw err;
    }
    return session;
  }

  /** Whether the selected attacks use this optional route and it still answers. */
  usable(route: OptionalRoute): boolean {
    if (!this.uses.has(route)) return false;
    const { method, path } = this.routeOf(route);
    return path !== undefined && !this.deadRoutes.has(routeKey(method, path));
  }

  routeOf(route: OptionalRoute): { method: string; path: string | undefined } {
    const { options } = this;
    if (route === 'logout') return { method: options.logoutMethod, path: options.logoutPath };
    if (route === 'elevate') return { method: 'POST', path: options.elevatePath };
    return { method: 'POST', path: options.logoutAllPath };
  }

  context(): AttackContext {
    return new AttackContext(this);
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

function setup(message: string): never {
  throw new FixationAttackSetupError(`fixation attack suite: ${message}`);
}

/** 404 and 405: the route is not there (or not with this method), which is a setup error, never a finding. */
function notFound(status: number): boolean {
  return status === 404 || status === 405;
}

/**
 * On a plain-http target that sets no cookie, asks again as if through a TLS proxy: an app
 * whose session cookie is Secure sets it then, and the fix is a flag, not a bug in the app.
 */
async function secureCookieHint(session: AttackSession, start: string): Promise<string | undefined> {
  const { client, options } = session;
  if (client.isHttps || options.https) return undefined;
  const tried = await client.send({ method: 'GET', path: start, headers: { 'x-forwarded-proto': 'https' } }).catch(() => undefined);
  const secure = tried?.setCookies.find((c) => !isClearing(c) && c.attributes.has('secure'));
  if (secure) {
    return `Secure cookie over an http:// target: the app sets its session cookie \`${secure.name}\` only with Secure, which is never sent over ${client.baseUrl.origin}. Pass ${options.name('https')} (the suite then sends X-Forwarded-Proto: https to an app that trusts its proxy), or attack the https URL, or run the app in development over plain HTTP (fixation-guard: plainHttpDevelopment).`;
  }
  return undefined;
}

/** Where a login's CSRF token may be served: the login path, its parents (`/login` for `/login/password`), the start page. */
/** The path of a redirect to the same origin (a relative or path-absolute Location), else undefined. */
function sameOriginRedirect(status: number, location: string | undefined): string | undefined {
  if (![301, 302, 303, 307, 308].includes(status) || !location || !location.startsWith('/') || location.startsWith('//')) return undefined;
  return location;
}

function csrfPageCandidates(loginPath: string, start: string): string[] {
  const pages = [loginPath];
  const segments = loginPath.split('?')[0]?.split('/').filter(Boolean) ?? [];
  for (let i = segments.length - 1; i >= 1; i--) pages.push(`/${segments.slice(0, i).join('/')}`);
  pages.push(start);
  return [...new Set(pages)];
}

async function probe(session: AttackSession): Promise<TargetFacts> {
  const { options, client } = session;
  const name = options.name;
  const https = options.https ?? client.isHttps;
  const facts: TargetFacts = {
    cookieName: options.cookieName ?? '',
    https,
    anonymousSessions: false,
    aliveCheck: { usable: true },
    csrf: undefined,
  };
  const ctx = new AttackContext(session, facts);
  const start = options.startPath;

  const first = await ctx.send('probe: anonymous visit', { method: 'GET', path: start });
  if (notFound(first.response.status)) {
    setup(`GET ${start} answered ${first.response.status}; pass ${name('startPath')} with a public page of the app (one that creates a session, such as the login page).`);
  }
  if (!facts.cookieName) facts.cookieName = guessSessionCookieName(first.response.setCookies) ?? '';
  const open = await ctx.send('probe: protected path without a session', { method: 'GET', path: options.protectedPath });
  if (isSuccess(open.response.status)) {
    setup(`GET ${options.protectedPath} answered ${open.response.status} without any session; ${name('protectedPath')} must name a path that needs a login (not 2xx without one).`);
  }
  const anonymous = facts.cookieName ? sessionCookieOf(first.response.setCookies, facts.cookieName) : undefined;
  if (options.csrf !== false) {
    // The login form is often served elsewhere than it posts to (GET /login, POST /login/password).
    const given = options.csrf === 'auto' ? undefined : options.csrf;
    const pages = given?.page ? [given.page] : csrfPageCandidates(options.loginPath, start);
    for (const path of pages) {
      const page = path === start ? first : await ctx.send('probe: a page that may carry a CSRF token', { method: 'GET', path, cookies: anonymous ? [anonymous] : [] });
      if (!facts.cookieName) facts.cookieName = guessSessionCookieName(page.response.setCookies) ?? '';
      const found = given ? (readCsrfToken(page.response, given.from) !== undefined ? { ...given, page: path } : undefined) : detectCsrf(page.response, path, facts.cookieName);
      if (found) {
        facts.csrf = found;
        break;
      }
    }
    if (given && !facts.csrf) {
      setup(`no CSRF token at ${given.from.kind}:${given.from.name} on GET ${pages.join(', GET ')}; pass ${name('csrf.page')} with the page that carries it, or check ${name('csrf')}.`);
    }
  }
  facts.anonymousSessions = anonymous !== undefined;
  const login = await ctx.login('probe: login', anonymous);
  if (notFound(login.response.status)) {
    setup(`login route not found: POST ${options.loginPath} answered ${login.response.status}; check ${name('loginPath')}.`);
  }
  if (login.response.status >= 400) {
    const hints = [`check ${name('loginPath')}, ${name('loginBody')} and ${name('loginEncoding')}`];
    if (login.response.status === 403 && !facts.csrf) hints.push(`if the login form carries a CSRF token, pass ${name('csrf')} (e.g. input:_csrf, meta:csrf-token, cookie:XSRF-TOKEN)`);
    if (login.response.status === 403 && facts.csrf) hints.push(`the CSRF token was sent as ${describeCsrf(facts.csrf)}; pass ${name('csrf')} and ${name('csrf.to')} if the app expects it elsewhere`);
    setup(`POST ${options.loginPath} answered ${login.response.status} to the given ${name('loginBody')}; ${hints.join('; ')}.`);
  }
  if (!facts.cookieName) facts.cookieName = guessSessionCookieName(login.response.setCookies) ?? '';
  if (!facts.cookieName) {
    const hint = await secureCookieHint(session, start);
    if (hint) setup(hint);
    setup(
      `neither GET ${start} nor POST ${options.loginPath} set a cookie. If the session cookie is Secure, it is never set over http:// (pass ${name('https')} for an app behind a TLS proxy, or attack the https URL); if it is set elsewhere, pass ${name('cookieName')}.`,
    );
  }
  // The cookie name may only be known since this login: read its cookie again.
  const loggedIn = login.cookie ?? sessionCookieOf(login.response.setCookies, facts.cookieName) ?? anonymous;
  if (!loggedIn) setup(`no \`${facts.cookieName}\` cookie was set before or at login; pass ${name('cookieName')} if the session cookie has another name.`);
  const auth = await ctx.authenticated('probe: protected path after login', loggedIn);
  if (!auth.ok) {
    setup(
      `after POST ${options.loginPath} answered ${login.response.status}, GET ${options.protectedPath} with the \`${facts.cookieName}\` cookie still answered ${auth.status}; check ${name('protectedPath')}, ${name('cookieName')}, ${name('loginEncoding')} and the credentials (${name('loginBody')}).`,
    );
  }
  let current = auth.cookie;
  if (session.usable('elevate')) {
    const elevate = await ctx.elevate('probe: privilege change', current);
    if (notFound(elevate.response.status)) setup(`privilege change route not found: POST ${options.elevatePath} answered ${elevate.response.status}; check ${name('elevatePath')}.`);
    if (elevate.response.status >= 400) {
      setup(`POST ${options.elevatePath} answered ${elevate.response.status} for a logged-in session; check ${name('elevatePath')} and ${name('elevateBody')}.`);
    }
    current = elevate.issued ?? current;
  }
  if (session.usable('logout')) {
    try {
      const out = await ctx.logout('probe: logout', current);
      if (notFound(out.response.status)) {
        const other = options.logoutMethod === 'POST' ? 'GET' : 'POST';
        setup(
          `logout route not found: ${options.logoutMethod} ${options.logoutPath} answered ${out.response.status}; try ${name('logoutMethod')} ${other}, or ${name('logoutPath')} with the app's logout route (or ${name('skip')} the attacks that log out).`,
        );
      }
    } catch (err) {
      // A hung logout aborts only the attacks that need it (the route is marked dead).
      if (!(err instanceof RequestTimeoutError) && !(err instanceof RouteAborted)) throw err;
    }
  }

  // Calibrate the alive check: a live id must be kept, an id the server does not know replaced.
  const fresh = await ctx.visit('probe: another anonymous visit');
  const forged = toSessionCookie(facts.cookieName, randomBytes(24).toString('base64url'));
  const unknown = await ctx.visit('probe: visit with an unknown id', forged);
  if (!fresh.issued) {
    facts.aliveCheck = {
      usable: false,
      why: `GET ${start} sets no session cookie, so a dead id cannot be told from a live one; pass ${name('startPath')} with a public page that creates a session (such as the login page)`,
    };
  } else if (!unknown.issued || unknown.issued.id === forged.id) {
    facts.aliveCheck = {
      usable: false,
      why: `GET ${start} with an unknown id did not answer with a fresh session cookie, so a dead id cannot be told from a live one`,
    };
  } else {
    const again = await ctx.visit('probe: revisit with the live id', fresh.issued);
    if (again.cleared || (again.issued && again.issued.id !== fresh.issued.id) || again.response.status >= 400) {
      facts.aliveCheck = { usable: false, why: `GET ${start} replaced a live session id, so a dead id cannot be told from a live one` };
    }
  }
  facts.anonymousSessions = facts.anonymousSessions || fresh.issued !== undefined;
  return facts;
}

export function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}

function sessionCookieOf(cookies: readonly SetCookie[], name: string): SessionCookie | undefined {
  const found = cookies.filter((c) => c.name === name && !isClearing(c)).at(-1);
  return found ? toSessionCookie(found.name, found.value, found.attributes) : undefined;
}

function formatAttributes(attributes: Map<string, string>): string[] {
  return [...attributes].map(([key, value]) => {
    const name = key === 'httponly' ? 'HttpOnly' : key === 'samesite' ? 'SameSite' : key === 'max-age' ? 'Max-Age' : key.charAt(0).toUpperCase() + key.slice(1);
    return value === '' ? name : `${name}=${value}`;
  });
}

/** Per-attack state: sends requests, records evidence with ids hashed, and cleans up after. */
export class AttackContext {
  readonly session: AttackSession;
  readonly facts: TargetFacts;
  readonly requests: EvidenceRequest[] = [];
  readonly notes: string[] = [];
  /** Every cookie seen, so their values and ids can be redacted from paths and notes. */
  readonly #seen = new Map<string, SessionCookie>();
  readonly #toLogOut: SessionCookie[] = [];

  constructor(session: AttackSession, facts?: TargetFacts) {
    this.session = session;
    this.facts = facts ?? session.facts;
  }

  get options(): ResolvedAttackOptions {
    return this.session.options;
  }

  get cookieName(): string {
    return this.facts.cookieName;
  }

  note(text: string): void {
    this.notes.push(this.redact(text));
  }

  /** Every session cookie this attack has seen, sent or received. */
  seenCookies(): SessionCookie[] {
    return [...this.#seen.values()];
  }

  /** Replaces every id and cookie value seen so far by its short hash. */
  redact(text: string): string {
    let out = text;
    const needles: Array<[string, string]> = [];
    for (const cookie of this.#seen.values()) {
      const hash = idHash(cookie.id);
      for (const needle of [cookie.value, decodeCookieValue(cookie.value), encodeURIComponent(cookie.value), cookie.id, encodeURIComponent(cookie.id)]) {
        if (needle.length >= 6) needles.push([needle, hash]);
      }
    }
    needles.sort((a, b) => b[0].length - a[0].length);
    for (const [needle, hash] of needles) out = out.split(needle).join(`<${hash}>`);
    return out;
  }

  #remember(cookie: SessionCookie): void {
    if (cookie.value && !this.#seen.has(cookie.value)) this.#seen.set(cookie.value, cookie);
  }

  /** A session cookie of this app with the given raw value (forged, tampered, replayed). */
  cookie(value: string): SessionCookie {
    const cookie = toSessionCookie(this.cookieName, value);
    this.#remember(cookie);
    return cookie;
  }

  async send(step: string, request: SendOptions): Promise<Exchange> {
    const headers: Record<string, string> = { ...request.headers };
    let body = request.body;
    if (request.json !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = JSON.stringify(request.json);
    }
    const cookies = request.cookies ?? [];
    cookies.forEach((c) => this.#remember(c));
    const all = [...cookies, ...(request.extraCookies ?? [])];
    if (all.length > 0) headers.cookie = cookieHeader(...all);
    const route = routeKey(request.method, request.path);
    const dead = this.session.deadRoutes.get(route);
    if (dead) throw new RouteAborted(dead);
    const evidence: EvidenceRequest = {
      step,
      method: request.method,
      path: request.path,
      sent: cookies.map((c) => evidenceCookie(c)),
      received: [],
    };
    if (!request.quiet) this.requests.push(evidence);
    try {
      const response = await this.session.client.send({ method: request.method, path: request.path, headers, ...(body === undefined ? {} : { body }), ...(request.crossSite === true ? { crossSite: true } : {}) });
      return this.#record(evidence, response);
    } catch (err) {
      evidence.error = (err as Error).message;
      evidence.path = this.redact(evidence.path);
      if (err instanceof RequestTimeoutError) this.session.deadRoutes.set(err.route, err.message);
      throw err;
    }
  }

  /** Starts a request whose body is withheld (see {@link AttackHttpClient.hold}). */
  hold(step: string, request: { method: string; path: string; cookies: readonly SessionCookie[] }): HeldRequest & { done(): Promise<Exchange> } {
    request.cookies.forEach((c) => this.#remember(c));
    const evidence: EvidenceRequest = { step, method: request.method, path: request.path, sent: request.cookies.map((c) => evidenceCookie(c)), received: [] };
    this.requests.push(evidence);
    const held = this.session.client.hold({
      method: request.method,
      path: request.path,
      headers: { cookie: cookieHeader(...request.cookies), 'content-type': 'application/json' },
      body: '{}',
    });
    return {
      accepted: held.accepted,
      release: held.release,
      done: async () => this.#record(evidence, await held.release()),
    };
  }

  #record(evidence: EvidenceRequest, response: ReceivedResponse): Exchange {
    const mine = response.setCookies.filter((c) => c.name === this.cookieName);
    const issued = sessionCookieOf(response.setCookies, this.cookieName);
    if (issued) this.#remember(issued);
    evidence.status = response.status;
    evidence.received = mine.map((c) =>
      isClearing(c)
        ? { name: c.name, id: '(cleared)', attributes: formatAttributes(c.attributes) }
        : evidenceCookie(toSessionCookie(c.name, c.value, c.attributes)),
    );
    const location = response.headers.location;
    if (location) evidence.location = this.redact(location);
    evidence.path = this.redact(evidence.path);
    return { response, issued, cleared: mine.some(isClearing) && !issued };
  }

  /** GET the start path (a public request that writes to the session). */
  visit(step: string, cookie?: SessionCookie): Promise<Exchange> {
    return this.send(step, { method: 'GET', path: this.options.startPath, cookies: cookie ? [cookie] : [] });
  }

  /** A fresh anonymous session, or NotApplicable when the app creates none before login. */
  async anonymous(step: string): Promise<SessionCookie> {
    const visit = await this.visit(step);
    if (!visit.issued) {
      throw new NotApplicable(
        `GET ${this.options.startPath} set no \`${this.cookieName}\` cookie, so there is no pre-login id to attack; pass ${this.options.name('startPath')} with a public page that creates a session (such as the login page)`,
      );
    }
    return visit.issued;
  }

  /**
   * Reads a CSRF token the way a browser's page would get it: GET the token page carrying
   * `cookie`. A session cookie the page sets replaces `cookie` (as in a browser); the other
   * cookies it sets (a double-submit cookie) go with the request that uses the token.
   */
  async csrfToken(step: string, cookie: SessionCookie | undefined): Promise<{ token: string | undefined; cookie: SessionCookie | undefined; extraCookies: Array<{ name: string; value: string }> }> {
    const csrf = this.facts.csrf;
    if (!csrf) return { token: undefined, cookie, extraCookies: [] };
    let page = csrf.page ?? this.options.loginPath;
    let current = cookie;
    const extraCookies: Array<{ name: string; value: string }> = [];
    // A logged-in session is often redirected away from the login page (to the account page,
    // which carries the logout form's token): follow up to three same-origin redirects, as the
    // browser would, instead of sending a state change without its token.
    for (let hop = 0; ; hop++) {
      const exchange = await this.send(hop === 0 ? step : `${step} (redirected)`, { method: 'GET', path: page, cookies: current ? [current] : [] });
      for (const c of exchange.response.setCookies) if (c.name !== this.cookieName && !isClearing(c)) extraCookies.push({ name: c.name, value: c.value });
      current = exchange.issued ?? (exchange.cleared ? undefined : current);
      const token = readCsrfToken(exchange.response, csrf.from);
      const next = token === undefined && hop < 3 ? sameOriginRedirect(exchange.response.status, exchange.response.headers.location) : undefined;
      if (next === undefined) {
        if (token === undefined) this.note(`GET ${page} carried no CSRF token at ${csrf.from.kind}:${csrf.from.name}`);
        return { token, cookie: current, extraCookies };
      }
      page = next;
    }
  }

  /** The body and headers of a state-changing request, in the login encoding, with the CSRF token where it goes. */
  #body(fields: Record<string, unknown>, token: string | undefined, encoding: 'json' | 'form'): Pick<SendOptions, 'headers' | 'json' | 'body'> {
    const csrf = this.facts.csrf;
    const headers: Record<string, string> = {};
    let all = fields;
    if (token !== undefined && csrf?.to.kind === 'header') headers[csrf.to.name] = token;
    if (token !== undefined && csrf?.to.kind === 'field') all = { ...fields, [csrf.to.name]: token };
    if (encoding === 'json') return { headers, json: all };
    headers['content-type'] = 'application/x-www-form-urlencoded';
    const form = new URLSearchParams();
    for (const [key, value] of Object.entries(all)) form.append(key, typeof value === 'string' ? value : JSON.stringify(value));
    return { headers, body: form.toString() };
  }

  /**
   * Logs in, optionally carrying a cookie: reads a fresh CSRF token first when the app uses
   * them. `before` is the id carried into the login (the page may have replaced `cookie`),
   * `cookie` the id in force afterwards.
   */
  async login(step: string, cookie?: SessionCookie, path = this.options.loginPath, loginBody = this.options.loginBody): Promise<Exchange & { before: SessionCookie | undefined; cookie: SessionCookie | undefined }> {
    const { loginEncoding } = this.options;
    const csrf = await this.csrfToken(`${step}: the login page (CSRF token)`, cookie);
    const before = csrf.cookie;
    const exchange = await this.send(step, {
      method: 'POST',
      path,
      cookies: before ? [before] : [],
      extraCookies: csrf.extraCookies,
      ...this.#body(loginBody, csrf.token, loginEncoding),
    });
    const after = exchange.issued ?? (exchange.cleared ? undefined : before);
    if (after && exchange.response.status < 400) this.#toLogOut.push(after);
    return { ...exchange, before, cookie: after };
  }

  /** A state-changing request of a logged-in session (POST, with a CSRF token when the app uses them). */
  async #change(step: string, method: string, path: string, cookie: SessionCookie, fields: Record<string, unknown>): Promise<Exchange> {
    if (method === 'GET') return this.send(step, { method, path, cookies: [cookie] });
    const csrf = this.facts.csrf ? await this.csrfToken(`${step}: a page with a CSRF token`, cookie) : undefined;
    const current = csrf?.cookie ?? cookie;
    return this.send(step, {
      method,
      path,
      cookies: [current],
      ...(csrf ? { extraCookies: csrf.extraCookies } : {}),
      ...this.#body(fields, csrf?.token, this.options.loginEncoding),
    });
  }

  /** Logs out with the configured method and path. */
  logout(step: string, cookie: SessionCookie): Promise<Exchange> {
    return this.#change(step, this.options.logoutMethod, this.options.logoutPath, cookie, {});
  }

  /** The privilege change (`elevatePath`, with `elevateBody`). */
  elevate(step: string, cookie: SessionCookie): Promise<Exchange> {
    return this.#change(step, 'POST', this.options.elevatePath as string, cookie, this.options.elevateBody);
  }

  /** Logs out everywhere (`logoutAllPath`). */
  logoutAll(step: string, cookie: SessionCookie): Promise<Exchange> {
    return this.#change(step, 'POST', this.options.logoutAllPath as string, cookie, {});
  }

  /** GET the protected path with exactly these cookies; `cookie` follows a rotation. */
  async authenticated(step: string, ...cookies: SessionCookie[]): Promise<{ ok: boolean; status: number; cookie: SessionCookie; body: string }> {
    const exchange = await this.send(step, { method: 'GET', path: this.options.protectedPath, cookies });
    const last = cookies.at(-1) as SessionCookie;
    return { ok: isSuccess(exchange.response.status), status: exchange.response.status, cookie: exchange.issued ?? last, body: exchange.response.body };
  }

  /** A logged-in session that started as an anonymous one (when the app has those); `loginBody` for another account. */
  async loggedIn(who: string, loginBody = this.options.loginBody): Promise<{ before: SessionCookie | undefined; after: SessionCookie }> {
    const before = this.facts.anonymousSessions ? await this.anonymous(`${who} visits the site`) : undefined;
    const login = await this.login(`${who} logs in`, before, this.options.loginPath, loginBody);
    const check = login.cookie ? await this.authenticated(`${who} opens the protected page`, login.cookie) : undefined;
    if (!check?.ok) {
      throw new NotApplicable(`logging in did not give a working session this time (POST ${this.options.loginPath} → ${login.response.status}${check ? `, GET ${this.options.protectedPath} → ${check.status}` : ''})`);
    }
    return { before: login.before ?? before, after: check.cookie };
  }

  /**
   * Whether the server still knows an id: replayed on the start path, a live id is kept and a
   * dead one is replaced by a fresh id (or refused). `undefined` when the probe found this
   * app gives no such signal.
   */
  async alive(step: string, cookie: SessionCookie): Promise<boolean | undefined> {
    if (!this.facts.aliveCheck.usable) return undefined;
    const visit = await this.visit(step, cookie);
    if (visit.response.status >= 400 || visit.cleared) return false;
    return !visit.issued || visit.issued.id === cookie.id;
  }

  /** Moves the app's test clock; NotApplicable when the suite was given none. */
  async advanceClock(ms: number, step: string, { quiet = false } = {}): Promise<void> {
    const { clock, clockPath } = this.options;
    if (clock) {
      await clock.advance(ms);
      if (!quiet) this.note(`${step}: the test clock moved ${formatDuration(ms)}`);
      return;
    }
    if (clockPath) {
      const moved = await this.send(step, { method: 'POST', path: clockPath, json: { advanceMs: ms }, quiet });
      if (!isSuccess(moved.response.status)) {
        throw new NotApplicable(`POST ${clockPath} answered ${moved.response.status}; was the server started with its test clock (TEST_CLOCK=1)?`);
      }
      return;
    }
    this.requireClock();
  }

  /** Logs this session out after the attack. */
  track(cookie: SessionCookie): void {
    this.#toLogOut.push(cookie);
  }

  /** NotApplicable unless the suite was given a test clock. */
  requireClock(): void {
    if (!this.options.clock && !this.options.clockPath) {
      const { name } = this.options;
      const which = name('clock') === '`clock`' ? '`clock` (an in-process app) or `clockPath` (a running server with a test clock)' : `${name('clockPath')} (a running server's test clock, POST {"advanceMs": n})`;
      throw new NotApplicable(`no test clock: pass ${which} to check timeouts without waiting`);
    }
  }

  /** Logs out every session this attack logged in, so runs do not pile up sessions per user. */
  async cleanUp(): Promise<void> {
    const cookies = this.#toLogOut.splice(0);
    // Only when an attack of the run uses the logout and it answers: a skipped or hung logout is never requested.
    if (!this.session.usable('logout')) return;
    for (const cookie of cookies) {
      if (!this.session.usable('logout')) return;
      const quiet = new AttackContext(this.session, this.facts);
      await quiet.logout('clean-up', cookie).catch(() => undefined);
    }
  }
}

function evidenceCookie(cookie: SessionCookie): EvidenceCookie {
  const out: EvidenceCookie = { name: cookie.name, id: idHash(cookie.id) };
  if (cookie.attributes) out.attributes = formatAttributes(cookie.attributes);
  return out;
}

/** `31 min`, `4 h 1 min`, `1500 ms`. */
export function formatDuration(ms: number): string {
  if (ms < 60_000) return `${ms} ms`;
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.round((ms % 3_600_000) / 60_000);
  return [hours ? `${hours} h` : '', minutes ? `${minutes} min` : ''].filter(Boolean).join(' ') || '0 min';
}
