import type { Request } from 'express';
import session, { type Store } from 'express-session';
import { Auditor, consoleSink, type AuditSink } from '../audit/index.js';
import { durationOption, systemClock, type Clock } from '../clock/index.js';
import { SessionGuardError } from '../errors/index.js';
import { hardenedCookie, plainHttpCookie, type HardenedCookieOptions, type ResolvedCookie } from '../cookie/hardened.js';
import type { RejectUrlSessionIdsOptions } from '../url-ids/index.js';
import { MemorySessionIndex } from '../session-index/memory.js';
import type { GuardStoreExtensions, SessionIndex, SessionLimit } from '../store/contracts.js';
import { DEFAULT_STORE_TIMEOUT_MS, GuardedStore } from '../store/guarded-store.js';
import { AtomicMemoryStore } from '../store/memory.js';
import { DEFAULT_STRATEGY, ROTATION_STRATEGIES, type RotationStrategy } from '../strategies/index.js';
import { Binding } from '../policy/binding.js';
import { trustedOriginsOf, type CrossSitePolicy } from '../cross-site/index.js';
import { deriveKey, shortHash } from '../util/hash.js';
import { randomSessionId } from '../util/random.js';
import { DEFAULT_AUTH_KEYS } from '../policy/principal.js';
import { DEFAULT_ABSOLUTE_TIMEOUT_MS, DEFAULT_IDLE_TIMEOUT_MS } from '../policy/timeouts.js';
import type { GuardContext } from './context.js';
import { createPlainHttpReports, isPlainLoopbackRequest, type PlainHttpMode } from './plain-http.js';

export { DEFAULT_AUTH_KEYS };

export const MIN_SECRET_BYTES = 32;
export { DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_ABSOLUTE_TIMEOUT_MS };
/** How long a periodically rotated id still resolves to its successor (parallel requests of one page). */
export const DEFAULT_ROTATION_GRACE_MS = 10_000;
/** lastSeenAt is written at most this often, so a read-only request does not rewrite the record. */
export const MAX_LAST_SEEN_GRANULARITY_MS = 60_000;

export interface SessionGuardOptions {
  /** Signs the cookie. At least 32 bytes; an array rotates: the first signs, all verify. */
  secret: string | string[];
  /** Any express-session Store. The default value is express-session's MemoryStore (refused in production). */
  store?: Store;
  /** principal → sessions. The default value is a `MemorySessionIndex` when the store is the MemoryStore; required otherwise. */
  index?: SessionIndex;
  /** The default value is `'changeSessionId'`. */
  strategy?: RotationStrategy;
  /** Required, and must be `true`, for `strategy: 'none'`. The default value is `false`. */
  dangerouslyAllowSessionFixation?: boolean;
  /** `newSession`: session keys carried across login. The default value is `[]`. */
  keep?: string[];
  /** `migrateSession`: session keys never carried across login. The default value is `[]`. */
  drop?: string[];
  cookie?: HardenedCookieOptions;
  /**
   * Plain-HTTP development. `'loopback'`: a plain-HTTP request from this machine (socket and
   * Host both loopback, no proxy headers) gets a non-Secure cookie named without the `__Host-`
   * prefix (`sid`), with one warning; every other request keeps the Secure cookie. `true`: the
   * cookie is never Secure (a container or VM reached by address). `false`: always Secure.
   * `'loopback'` and `true` are refused in production. The default value is `'loopback'`, or
   * `false` when `env` is `'production'`.
   */
  plainHttpDevelopment?: boolean | 'loopback';
  /** Trust `X-Forwarded-Proto` for the Secure cookie (express-session's `proxy`). The default value is Express's `trust proxy` setting. */
  trustProxy?: boolean;
  /** The default value is `'30m'`. */
  idleTimeout?: number | string;
  /** The default value is `'4h'`. */
  absoluteTimeout?: number | string;
  /** Periodic id renewal. The default value is `false` (off). */
  rotateEvery?: number | string | false;
  /**
   * After a periodic rotation, how long the old id still resolves to its one successor, so
   * that the parallel requests of one page that all carry it succeed (never after a login or
   * elevation). `false` = none: those requests find their session rotated (401
   * `SESSION_ROTATED`, retriable). The default value is `'10s'`.
   */
  rotationGrace?: number | string | false;
  /** The default value is `false` (no limit). */
  maxSessionsPerUser?: number | false;
  /** The default value is `'evictOldest'`. */
  onSessionLimit?: 'evictOldest' | 'rejectLogin';
  /** Returns the principal's current credential version (password hash epoch, disabled flag…). */
  credentialVersion?: (principal: string) => unknown;
  /** Session keys whose presence means "authenticated" to the tripwire. The default value is `DEFAULT_AUTH_KEYS` (`user`, `userId`, `username`, `uid`, `loggedIn`, `passport.user`, …). */
  authKeys?: string[];
  /**
   * Where audit events go: an `Auditor`, a sink, or sinks (`[]` for none). The default value is
   * `consoleSink()` outside production (and outside `NODE_ENV=test`), no sink in production.
   */
  audit?: Auditor | AuditSink | AuditSink[];
  /** The default value is the system clock. */
  clock?: Clock;
  /** How long a dead id stays refused. The default value is the absolute timeout. */
  tombstoneTtl?: number | string;
  /**
   * A store call slower than this answers 503. The default value is `'5s'`. A store with a
   * shorter deadline of its own (the Redis store's `operationTimeout`) keeps its own, and
   * express-session's MemoryStore, which answers from memory, needs none.
   */
  storeTimeout?: number | string;
  /** `false` turns the URL check off; `true` or an object turns it on. The default value is on, action `'reject'`. */
  urlSessionIds?: boolean | Pick<RejectUrlSessionIdsOptions, 'names' | 'action'>;
  /** `false` turns the duplicate-cookie check off; `true` or an object turns it on. The default value is on, action `'reject'`. */
  cookieTossing?: boolean | { action?: 'reject' | 'ignore' };
  /**
   * Login CSRF: `req.login()` and `req.elevate()` refuse a request a browser sent from a page of
   * another site (`403 SESSION_CROSS_SITE_LOGIN`, audited `cross_site_login_rejected`).
   * `trustedOrigins` lists origins allowed besides the app's own (an SSO page on another
   * domain); `false` turns the check off. Per call: `req.login(p, { allowCrossSite: true })`;
   * per route: `allowCrossSiteLogin()`. The default value is on, with no trusted origins.
   */
  loginCsrf?: boolean | { trustedOrigins?: string[] };
  /** Install `req.login` & co. (passport's own stay in place). The default value is on when `fixation-guard/request-methods` was imported, off otherwise. */
  requestMethods?: boolean;
  /** Guard errors answer JSON (`'json'`) or go to `next(err)` (`'next'`). The default value is `'json'`. */
  errorResponse?: 'json' | 'next';
  /** The environment; the default value is `process.env.NODE_ENV`. `'production'` enables the strict checks. */
  env?: string;
}

const KNOWN_OPTIONS = new Set([
  'secret', 'store', 'index', 'strategy', 'dangerouslyAllowSessionFixation', 'keep', 'drop', 'cookie',
  'plainHttpDevelopment', 'trustProxy', 'idleTimeout', 'absoluteTimeout', 'rotateEvery', 'rotationGrace', 'maxSessionsPerUser',
  'onSessionLimit', 'credentialVersion', 'authKeys', 'audit', 'clock', 'tombstoneTtl', 'storeTimeout',
  'urlSessionIds', 'cookieTossing', 'loginCsrf', 'requestMethods', 'errorResponse', 'env',
]);

const NAME = 'sessionGuard';
const SECRET_HINT = `Generate one with: node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))"`;

function show(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function closest(name: string): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  for (const known of KNOWN_OPTIONS) {
    const a = name.toLowerCase();
    const b = known.toLowerCase();
    const dp = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) (dp[0] as number[])[j] = j;
    for (let i = 1; i <= a.length; i++) {
      for (let j = 1; j <= b.length; j++) {
        const row = dp[i] as number[];
        const prev = dp[i - 1] as number[];
        row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
      }
    }
    const score = (dp[a.length] as number[])[b.length] as number;
    if (score < bestScore) {
      bestScore = score;
      best = known;
    }
  }
  // A short name is "close" to every other short name: scale the allowed distance with length.
  return bestScore <= Math.min(3, Math.floor(name.length / 3)) ? best : undefined;
}

/** express-session options people carry over: where each one went. */
const EXPRESS_SESSION_OPTIONS: Record<string, string> = {
  name: '; did you mean `cookie.name`?',
  proxy: '; did you mean `trustProxy`?',
  resave: ': sessionGuard configures express-session itself; remove it.',
  saveUninitialized: ': sessionGuard configures express-session itself; remove it.',
  rolling: ': sessionGuard configures express-session itself; remove it.',
  genid: ': sessionGuard configures express-session itself; remove it.',
  unset: ': sessionGuard configures express-session itself; remove it.',
};

function duration(value: unknown, option: string, fallback: number): number {
  return durationOption(value, NAME, option, fallback);
}

function stringArray(value: unknown, option: string, fallback: readonly string[]): readonly string[] {
  if (value === undefined) return fallback;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v.length === 0)) {
    throw new TypeError(`${NAME}: \`${option}\` must be an array of non-empty strings; got ${show(value)}`);
  }
  return Object.freeze([...value]);
}

function secretsOf(value: unknown): string[] {
  if (value === undefined || value === null || value === '') {
    throw new TypeError(`${NAME}: \`secret\` is required: it signs the session cookie. ${SECRET_HINT}`);
  }
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw new Error(`${NAME}: \`secret\` is an empty array; give at least one secret. ${SECRET_HINT}`);
  for (const [i, secret] of list.entries()) {
    const where = Array.isArray(value) ? `secret[${i}]` : 'secret';
    if (typeof secret !== 'string') throw new TypeError(`${NAME}: \`${where}\` must be a string; got ${typeof secret}`);
    const bytes = Buffer.byteLength(secret);
    if (bytes < MIN_SECRET_BYTES) {
      throw new Error(`${NAME}: \`${where}\` must be at least ${MIN_SECRET_BYTES} bytes; got ${bytes} bytes. ${SECRET_HINT}`);
    }
  }
  return list as string[];
}

/**
 * Without an `audit` option: outside production (and outside test runners' NODE_ENV=test), the
 * events go to the console, so that an outage or a refused cookie is never silent while an app
 * is being built; in production, nowhere until a sink is configured. `audit: []` is silence.
 */
function auditorOf(value: unknown, secret: string, clock: Clock, env: string): Auditor {
  if (value instanceof Auditor) return value;
  if (value === undefined) return new Auditor({ hashSecret: secret, clock, sinks: env === 'production' || env === 'test' ? [] : [consoleSink()] });
  if (typeof value === 'function') return new Auditor({ sinks: [value as AuditSink], hashSecret: secret, clock });
  if (Array.isArray(value) && value.every((s) => typeof s === 'function')) {
    return new Auditor({ sinks: value as AuditSink[], hashSecret: secret, clock });
  }
  throw new TypeError(`${NAME}: \`audit\` must be an Auditor, a sink function or an array of sinks; got ${show(value)}`);
}

export interface ResolvedGuard {
  context: GuardContext;
  sessionOptions: session.SessionOptions;
  urlSessionIds: false | Pick<RejectUrlSessionIdsOptions, 'names' | 'action'>;
  cookieTossing: false | { action?: 'reject' | 'ignore' };
  /** Undefined: follow `fixation-guard/request-methods` (read per request). */
  requestMethods: boolean | undefined;
  warnings: string[];
  /** Development-only information (not a weakness): what the tripwire watches. */
  notices: string[];
}

/**
 * express-session generates a session's cookie from these options (one `store.generate` per
 * store, whichever express-session instance runs): the plain-HTTP twin for a request from this
 * machine, the configured cookie for every other.
 */
function plainHttpAwareCookie(cookie: ResolvedCookie, loopback: ResolvedCookie): (req: Request) => session.CookieOptions {
  return function sessionCookieFor(req) {
    return isPlainLoopbackRequest(req) ? loopback.options : cookie.options;
  };
}

/** Validates everything at construction; the request path only does per-request work. */
export function resolveOptions(input: unknown): ResolvedGuard {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new TypeError(`${NAME}: options must be an object like { secret }; got ${show(input)}`);
  }
  const maybeRequest = input as { headers?: unknown; method?: unknown };
  if (typeof maybeRequest.headers === 'object' && typeof maybeRequest.method === 'string') {
    throw new TypeError(`${NAME}: was used as a middleware without being called. Write app.use(sessionGuard({ secret })), not app.use(sessionGuard).`);
  }
  const o = input as SessionGuardOptions & Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!KNOWN_OPTIONS.has(key)) {
      const carried = Object.prototype.hasOwnProperty.call(EXPRESS_SESSION_OPTIONS, key) ? EXPRESS_SESSION_OPTIONS[key] : undefined;
      const hint = carried === undefined ? closest(key) : undefined;
      throw new Error(`${NAME}: unknown option \`${key}\`${carried ?? (hint ? `; did you mean \`${hint}\`?` : '.')}`);
    }
  }
  const env = o.env ?? process.env.NODE_ENV ?? 'development';
  const production = env === 'production';
  const warnings: string[] = [];
  const notices: string[] = [];
  const secrets = secretsOf(o.secret);

  const clock = o.clock ?? systemClock;
  if (typeof clock !== 'object' || typeof clock.now !== 'function') {
    throw new TypeError(`${NAME}: \`clock\` must be an object with a now() method; got ${show(o.clock)}`);
  }

  for (const flag of ['dangerouslyAllowSessionFixation', 'trustProxy', 'requestMethods'] as const) {
    if (o[flag] !== undefined && typeof o[flag] !== 'boolean') {
      throw new TypeError(`${NAME}: \`${flag}\` must be a boolean; got ${show(o[flag])}`);
    }
  }
  if (o.plainHttpDevelopment !== undefined && typeof o.plainHttpDevelopment !== 'boolean' && o.plainHttpDevelopment !== 'loopback') {
    throw new TypeError(`${NAME}: \`plainHttpDevelopment\` must be 'loopback', true or false; got ${show(o.plainHttpDevelopment)}`);
  }
  if (production && (o.plainHttpDevelopment === true || o.plainHttpDevelopment === 'loopback')) {
    throw new Error(`${NAME}: \`plainHttpDevelopment\` is ${show(o.plainHttpDevelopment)} in production; serve HTTPS (behind a TLS proxy set app.set('trust proxy', 1)) and remove the option.`);
  }
  const plainHttp: PlainHttpMode =
    o.plainHttpDevelopment === true ? 'always' : o.plainHttpDevelopment === false || production ? 'never' : 'loopback';
  const plainHttpDevelopment = plainHttp === 'always';
  if (plainHttpDevelopment) warnings.push('plainHttpDevelopment: the session cookie is not Secure and has no __Host- prefix. Never use this in production.');

  const strategy = o.strategy ?? DEFAULT_STRATEGY;
  if (!ROTATION_STRATEGIES.includes(strategy)) {
    throw new Error(`${NAME}: \`strategy\` must be one of ${ROTATION_STRATEGIES.map((s) => `'${s}'`).join(', ')}; got ${show(strategy)}`);
  }
  if (strategy === 'none' && o.dangerouslyAllowSessionFixation !== true) {
    throw new Error(`${NAME}: \`strategy\` 'none' keeps the pre-login session id, which is session fixation. Use 'changeSessionId', or set \`dangerouslyAllowSessionFixation: true\` to demonstrate the attack.`);
  }
  if (strategy === 'none') {
    if (production) throw new Error(`${NAME}: \`strategy\` 'none' is refused in production.`);
    warnings.push("strategy 'none': session ids are NOT rotated at login. This app is vulnerable to session fixation by design.");
  }

  const idleTimeoutMs = duration(o.idleTimeout, 'idleTimeout', DEFAULT_IDLE_TIMEOUT_MS);
  const absoluteTimeoutMs = duration(o.absoluteTimeout, 'absoluteTimeout', DEFAULT_ABSOLUTE_TIMEOUT_MS);
  if (absoluteTimeoutMs < idleTimeoutMs) {
    throw new Error(`${NAME}: \`absoluteTimeout\` (${absoluteTimeoutMs} ms) is shorter than \`idleTimeout\` (${idleTimeoutMs} ms); make it at least as long.`);
  }
  const rotateEveryMs = o.rotateEvery === undefined || o.rotateEvery === false ? undefined : duration(o.rotateEvery, 'rotateEvery', 0);
  const rotationGraceMs = o.rotationGrace === false ? 0 : duration(o.rotationGrace, 'rotationGrace', DEFAULT_ROTATION_GRACE_MS);
  if (o.rotationGrace !== undefined && o.rotationGrace !== false && rotateEveryMs === undefined) {
    throw new Error(`${NAME}: \`rotationGrace\` only applies to periodic rotation; set \`rotateEvery\` too, or remove it.`);
  }
  if (rotateEveryMs !== undefined && rotationGraceMs >= rotateEveryMs) {
    throw new Error(`${NAME}: \`rotationGrace\` (${rotationGraceMs} ms) must be shorter than \`rotateEvery\` (${rotateEveryMs} ms).`);
  }
  const tombstoneTtlMs = duration(o.tombstoneTtl, 'tombstoneTtl', absoluteTimeoutMs);
  const storeTimeoutMs = duration(o.storeTimeout, 'storeTimeout', DEFAULT_STORE_TIMEOUT_MS);

  let sessionLimit: SessionLimit | undefined;
  if (o.maxSessionsPerUser !== undefined && o.maxSessionsPerUser !== false) {
    if (typeof o.maxSessionsPerUser !== 'number') {
      throw new TypeError(`${NAME}: \`maxSessionsPerUser\` must be a positive integer or false; got ${show(o.maxSessionsPerUser)}`);
    }
    if (!Number.isInteger(o.maxSessionsPerUser) || o.maxSessionsPerUser < 1) {
      throw new Error(`${NAME}: \`maxSessionsPerUser\` must be a positive integer or false; got ${show(o.maxSessionsPerUser)}`);
    }
    const onLimit = o.onSessionLimit ?? 'evictOldest';
    if (onLimit !== 'evictOldest' && onLimit !== 'rejectLogin') {
      throw new Error(`${NAME}: \`onSessionLimit\` must be 'evictOldest' or 'rejectLogin'; got ${show(onLimit)}`);
    }
    sessionLimit = { max: o.maxSessionsPerUser, onLimit };
  } else if (o.onSessionLimit !== undefined) {
    throw new Error(`${NAME}: \`onSessionLimit\` has no effect without \`maxSessionsPerUser\`; set both or neither.`);
  }

  if (o.credentialVersion !== undefined && typeof o.credentialVersion !== 'function') {
    throw new TypeError(`${NAME}: \`credentialVersion\` must be a function (principal) => version; got ${show(o.credentialVersion)}`);
  }

  // Without a store: express-session's MemoryStore, with the guard's atomic extensions, keeping
  // the default index itself (a login is then one step of the store).
  const ownIndex = o.store === undefined && o.index === undefined ? new MemorySessionIndex() : undefined;
  const store = o.store ?? new AtomicMemoryStore({ index: ownIndex });
  if (typeof store !== 'object' || store === null || typeof store.get !== 'function' || typeof store.set !== 'function' || typeof store.destroy !== 'function' || typeof store.on !== 'function') {
    throw new TypeError(`${NAME}: \`store\` must be an express-session Store (with get, set, destroy and on); got ${show(o.store)}`);
  }
  if (store instanceof GuardedStore) {
    throw new Error(`${NAME}: \`store\` is already a GuardedStore; pass the store it wraps.`);
  }
  const memoryStore = store instanceof session.MemoryStore;
  if (memoryStore && production) {
    throw new Error(`${NAME}: the MemoryStore is refused in production: it leaks memory and is not shared between instances. Pass \`store\` (e.g. fixation-guard/redis) and \`index\`.`);
  }
  const atomic = typeof (store as { guardedSet?: unknown }).guardedSet === 'function' && typeof (store as { tombstone?: unknown }).tombstone === 'function';
  if (!memoryStore && !atomic) {
    warnings.push(
      'the session store has no atomic guardedSet/tombstone (GuardStoreExtensions): tombstones are checked with get-then-set, serialised within this process only. Across several instances a late save racing a rotation could revive the old id; use fixation-guard/redis or implement the extensions.',
    );
  }
  let index = o.index ?? ownIndex;
  if (index === undefined) {
    if (!memoryStore) {
      throw new Error(`${NAME}: \`index\` is required with a shared \`store\`: a per-process index would miss other instances' sessions. Pass the store's index (e.g. createRedisSessionStores().index) or \`new MemorySessionIndex()\` for a single instance.`);
    }
    index = new MemorySessionIndex();
  }
  for (const method of ['admit', 'remove', 'rename', 'touch', 'list'] as const) {
    if (typeof index !== 'object' || index === null || typeof (index as unknown as Record<string, unknown>)[method] !== 'function') {
      throw new TypeError(`${NAME}: \`index\` must implement SessionIndex (missing ${method}()); got ${show(o.index)}`);
    }
  }

  const cookie = hardenedCookie(o.cookie, { plainHttpDevelopment, defaultMaxAge: absoluteTimeoutMs, where: NAME });
  const authKeys = stringArray(o.authKeys, 'authKeys', DEFAULT_AUTH_KEYS);
  if (!production) notices.push(`the fixation tripwire watches the session keys ${authKeys.join(', ')}: a session marked authenticated under any of them without req.sessionGuard.login() is destroyed. Set \`authKeys\` if your app marks logins under another key.`);
  const keep = stringArray(o.keep, 'keep', []);
  const drop = stringArray(o.drop, 'drop', []);
  if (o.keep !== undefined && strategy !== 'newSession') {
    throw new Error(`${NAME}: \`keep\` only applies to strategy 'newSession' (got '${strategy}'); remove it or change the strategy.`);
  }
  if (o.drop !== undefined && strategy !== 'migrateSession') {
    throw new Error(`${NAME}: \`drop\` only applies to strategy 'migrateSession' (got '${strategy}'); remove it or change the strategy.`);
  }

  // As in helmet: undefined or true = on with the defaults, false = off.
  const urlSessionIds = o.urlSessionIds === undefined || o.urlSessionIds === true ? {} : o.urlSessionIds;
  if (urlSessionIds !== false && (typeof urlSessionIds !== 'object' || urlSessionIds === null)) {
    throw new TypeError(`${NAME}: \`urlSessionIds\` must be a boolean or an object; got ${show(o.urlSessionIds)}`);
  }
  const cookieTossing = o.cookieTossing === undefined || o.cookieTossing === true ? {} : o.cookieTossing;
  if (cookieTossing !== false && (typeof cookieTossing !== 'object' || cookieTossing === null)) {
    throw new TypeError(`${NAME}: \`cookieTossing\` must be a boolean or an object; got ${show(o.cookieTossing)}`);
  }
  let crossSite: CrossSitePolicy | undefined;
  if (o.loginCsrf === false) {
    warnings.push('loginCsrf: false: a page on another site can log a visitor into an account of its choosing (login CSRF). Prefer `trustedOrigins`, or `allowCrossSiteLogin()` on the one route that needs it.');
  } else if (o.loginCsrf === undefined || o.loginCsrf === true || (typeof o.loginCsrf === 'object' && o.loginCsrf !== null && !Array.isArray(o.loginCsrf))) {
    const settings = typeof o.loginCsrf === 'object' ? o.loginCsrf : {};
    for (const key of Object.keys(settings)) {
      if (key !== 'trustedOrigins') throw new Error(`${NAME}: unknown option \`loginCsrf.${key}\`; the only one is \`trustedOrigins\`.`);
    }
    crossSite = { trustedOrigins: trustedOriginsOf(settings.trustedOrigins, NAME, 'loginCsrf.trustedOrigins'), trustProxy: o.trustProxy };
  } else {
    throw new TypeError(`${NAME}: \`loginCsrf\` must be a boolean or { trustedOrigins }; got ${show(o.loginCsrf)}`);
  }
  const errorResponse = o.errorResponse ?? 'json';
  if (errorResponse !== 'json' && errorResponse !== 'next') {
    throw new Error(`${NAME}: \`errorResponse\` must be 'json' or 'next'; got ${show(errorResponse)}`);
  }

  const first = secrets[0] as string;
  const clockUsed = clock;
  const auditor = auditorOf(o.audit, first, clockUsed, env);
  const development = !production;
  const guardedStore = new GuardedStore(store, {
    auditor,
    clock: clockUsed,
    index,
    tombstoneTtlMs,
    operationTimeoutMs: storeTimeoutMs,
    sessionLimit,
  });
  const genid = randomSessionId;
  const handleKey = deriveKey(first, 'session-handle');
  const sessionIdFor = (store as GuardStoreExtensions).sessionIdFor;
  const genidFor =
    typeof sessionIdFor === 'function'
      ? (principal: string | undefined) => {
          const random = genid();
          if (principal === undefined) return random;
          const id: unknown = sessionIdFor.call(store, principal, random);
          // The id's unguessability is the random part: a store may only add to it.
          if (typeof id !== 'string' || !id.includes(random)) throw new SessionGuardError('SESSION_CONFIG', `${NAME}: the store's sessionIdFor() must return a string that contains the random id it was given.`);
          return id;
        }
      : () => genid();

  const context: GuardContext = {
    store: guardedStore,
    auditor,
    clock: clockUsed,
    binding: new Binding(secrets),
    authKeys,
    strategy,
    keep,
    drop,
    cookieName: cookie.name,
    cookieOptions: cookie.options,
    cookie,
    // Only a Secure cookie needs a plain-HTTP twin; one already non-Secure serves every request.
    loopbackCookie: plainHttp === 'loopback' && cookie.options.secure === true ? plainHttpCookie(cookie) : undefined,
    plainHttp,
    trustProxy: o.trustProxy,
    production,
    plainHttpReports: createPlainHttpReports(),
    secrets,
    timeouts: {
      idleTimeoutMs,
      absoluteTimeoutMs,
      // Strategy 'none' never changes an id, periodically or otherwise.
      rotateEveryMs: strategy === 'none' ? undefined : rotateEveryMs,
      lastSeenGranularityMs: Math.min(MAX_LAST_SEEN_GRANULARITY_MS, Math.floor(idleTimeoutMs / 10)),
    },
    rotationGraceMs: rotateEveryMs === undefined ? 0 : rotationGraceMs,
    sessionLimit,
    credentialVersion: o.credentialVersion,
    errorResponse,
    development,
    genid,
    crossSite,
    sessionHandle: (sessionId) => shortHash(handleKey, sessionId),
    genidFor,
  };
  const sessionOptions: session.SessionOptions = {
    secret: secrets,
    name: cookie.name,
    store: guardedStore,
    cookie: context.loopbackCookie === undefined ? cookie.options : plainHttpAwareCookie(cookie, context.loopbackCookie),
    genid,
    resave: false,
    saveUninitialized: false,
    rolling: false,
    unset: 'keep',
  };
  if (o.trustProxy !== undefined) sessionOptions.proxy = o.trustProxy;
  return {
    context,
    sessionOptions,
    urlSessionIds,
    cookieTossing,
    requestMethods: o.requestMethods,
    warnings,
    notices,
  };
}
