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
import { AttackHttpClient, type AttackTarget, type HeldRequest, type ReceivedResponse } from './http.js';
import type { ResolvedAttackOptions } from './options.js';
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
  /** Leave the request out of the evidence (bulk sampling). */
  quiet?: boolean;
}

/** What the probe learnt about the app, shared by every attack of a run. */
export interface TargetFacts {
  cookieName: string;
  https: boolean;
  /** Whether a public request creates a session (a pre-login id exists to plant). */
  anonymousSessions: boolean;
  /**
   * Whether replaying a cookie on the start path tells a live id (kept) from a dead one (a
   * fresh id is issued). When false, `undefined` says why.
   */
  aliveCheck: { usable: true } | { usable: false; why: string };
}

/**
 * One run against one target: the HTTP client, the resolved options and the facts the probe
 * found. Attacks get an {@link AttackContext} each.
 */
export class AttackSession {
  readonly client: AttackHttpClient;
  readonly options: ResolvedAttackOptions;
  facts!: TargetFacts;

  private constructor(client: AttackHttpClient, options: ResolvedAttackOptions) {
    this.client = client;
    this.options = options;
  }

  /** Opens the target and probes it; throws {@link FixationAttackSetupError} when it cannot be attacked. */
  static async open(target: AttackTarget, options: ResolvedAttackOptions): Promise<AttackSession> {
    const headers = { ...options.headers };
    const plainTransport = typeof target === 'function' || !/^https:/i.test(String(target));
    // An app behind a TLS-terminating proxy decides Secure from X-Forwarded-Proto.
    if (options.https && plainTransport) headers['x-forwarded-proto'] ??= 'https';
    const client = await AttackHttpClient.open(target, { timeoutMs: options.requestTimeoutMs, headers });
    const session = new AttackSession(client, options);
    try {
      session.facts = await probe(session);
    } catch (err) {
      await client.close();
      throw err;
    }
    return session;
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

async function probe(session: AttackSession): Promise<TargetFacts> {
  const { options, client } = session;
  const https = options.https ?? client.isHttps;
  const facts: TargetFacts = { cookieName: options.cookieName ?? '', https, anonymousSessions: false, aliveCheck: { usable: true } };
  const ctx = new AttackContext(session, facts);
  const start = options.startPath;

  const first = await ctx.send('probe: anonymous visit', { method: 'GET', path: start });
  if (!facts.cookieName) facts.cookieName = guessSessionCookieName(first.response.setCookies) ?? '';
  const open = await ctx.send('probe: protected path without a session', { method: 'GET', path: options.protectedPath });
  if (isSuccess(open.response.status)) {
    setup(`GET ${options.protectedPath} answered ${open.response.status} without any session; \`protectedPath\` must name a path that needs a login (401/403 without one).`);
  }
  const anonymous = facts.cookieName ? sessionCookieOf(first.response.setCookies, facts.cookieName) : undefined;
  facts.anonymousSessions = anonymous !== undefined;
  const login = await ctx.login('probe: login', anonymous);
  if (login.response.status >= 400) {
    setup(`POST ${options.loginPath} answered ${login.response.status} to the given \`loginBody\`; check \`loginPath\`, \`loginBody\` and \`loginEncoding\`.`);
  }
  if (!facts.cookieName) facts.cookieName = guessSessionCookieName(login.response.setCookies) ?? '';
  if (!facts.cookieName) {
    setup(`neither GET ${start} nor POST ${options.loginPath} set a cookie; pass \`cookieName\` if the session cookie is set elsewhere.`);
  }
  const loggedIn = sessionCookieOf(login.response.setCookies, facts.cookieName) ?? anonymous;
  if (!loggedIn) setup(`no \`${facts.cookieName}\` cookie was set before or at login.`);
  const auth = await ctx.authenticated('probe: protected path after login', loggedIn);
  if (!auth.ok) {
    setup(`after POST ${options.loginPath} answered ${login.response.status}, GET ${options.protectedPath} with the \`${facts.cookieName}\` cookie still answered ${auth.status}; check \`protectedPath\`, \`cookieName\` and the credentials.`);
  }
  let current = auth.cookie;
  if (options.elevatePath) {
    const elevate = await ctx.send('probe: privilege change', { method: 'POST', path: options.elevatePath, cookies: [current], json: options.elevateBody });
    if (elevate.response.status >= 400) {
      setup(`POST ${options.elevatePath} answered ${elevate.response.status} for a logged-in session; check \`elevatePath\` and \`elevateBody\`.`);
    }
    current = elevate.issued ?? current;
  }
  await ctx.send('probe: logout', { method: 'POST', path: options.logoutPath, cookies: [current] });

  // Calibrate the alive check: a live id must be kept, an id the server does not know replaced.
  const fresh = await ctx.visit('probe: another anonymous visit');
  const forged = toSessionCookie(facts.cookieName, randomBytes(24).toString('base64url'));
  const unknown = await ctx.visit('probe: visit with an unknown id', forged);
  if (!fresh.issued) {
    facts.aliveCheck = { usable: false, why: `GET ${start} sets no session cookie, so a dead id cannot be told from a live one` };
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
    if (cookies.length > 0) headers.cookie = cookieHeader(...cookies);
    const evidence: EvidenceRequest = {
      step,
      method: request.method,
      path: request.path,
      sent: cookies.map((c) => evidenceCookie(c)),
      received: [],
    };
    if (!request.quiet) this.requests.push(evidence);
    try {
      const response = await this.session.client.send({ method: request.method, path: request.path, headers, ...(body === undefined ? {} : { body }) });
      return this.#record(evidence, response);
    } catch (err) {
      evidence.error = (err as Error).message;
      evidence.path = this.redact(evidence.path);
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
      throw new NotApplicable(`GET ${this.options.startPath} set no \`${this.cookieName}\` cookie, so there is no pre-login id to attack`);
    }
    return visit.issued;
  }

  /** POST the login body, optionally carrying a cookie; `cookie` is the id in force afterwards. */
  async login(step: string, cookie?: SessionCookie, path = this.options.loginPath): Promise<Exchange & { cookie: SessionCookie | undefined }> {
    const { loginBody, loginEncoding } = this.options;
    const exchange = await this.send(step, {
      method: 'POST',
      path,
      cookies: cookie ? [cookie] : [],
      ...(loginEncoding === 'json'
        ? { json: loginBody }
        : { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(loginBody as Record<string, string>).toString() }),
    });
    const after = exchange.issued ?? (exchange.cleared ? undefined : cookie);
    if (after && exchange.response.status < 400) this.#toLogOut.push(after);
    return { ...exchange, cookie: after };
  }

  /** GET the protected path with exactly these cookies; `cookie` follows a rotation. */
  async authenticated(step: string, ...cookies: SessionCookie[]): Promise<{ ok: boolean; status: number; cookie: SessionCookie }> {
    const exchange = await this.send(step, { method: 'GET', path: this.options.protectedPath, cookies });
    const last = cookies.at(-1) as SessionCookie;
    return { ok: isSuccess(exchange.response.status), status: exchange.response.status, cookie: exchange.issued ?? last };
  }

  /** A logged-in session that started as an anonymous one (when the app has those). */
  async loggedIn(who: string): Promise<{ before: SessionCookie | undefined; after: SessionCookie }> {
    const before = this.facts.anonymousSessions ? await this.anonymous(`${who} visits the site`) : undefined;
    const login = await this.login(`${who} logs in`, before);
    const check = login.cookie ? await this.authenticated(`${who} opens the protected page`, login.cookie) : undefined;
    if (!check?.ok) {
      throw new NotApplicable(`logging in did not give a working session this time (POST ${this.options.loginPath} → ${login.response.status}${check ? `, GET ${this.options.protectedPath} → ${check.status}` : ''})`);
    }
    return { before, after: check.cookie };
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
      throw new NotApplicable('no test clock: pass `clock` (an in-process app) or `clockPath` (a running server with a test clock) to check timeouts without waiting');
    }
  }

  /** Logs out every session this attack logged in, so runs do not pile up sessions per user. */
  async cleanUp(): Promise<void> {
    for (const cookie of this.#toLogOut.splice(0)) {
      await this.session.client
        .send({ method: 'POST', path: this.options.logoutPath, headers: { cookie: cookieHeader(cookie) } })
        .catch(() => undefined);
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
