import { parseDuration, refuseRenamedDurations } from '../clock/index.js';
import type { AttackClock, FailOn, FixationAttackId, FixationAttackOptions } from './types.js';
import { DEFAULT_FAIL_ON, FAIL_ON_VALUES } from './verdict.js';

/** Defaults of the paths, matching the fixation-guard examples (DESIGN §5). */
export const DEFAULT_LOGIN_PATH = '/login';
export const DEFAULT_START_PATH = '/';
export const DEFAULT_PROTECTED_PATH = '/me';
export const DEFAULT_LOGOUT_PATH = '/logout';
export const DEFAULT_IDLE_TIMEOUT = '30m';
export const DEFAULT_ABSOLUTE_TIMEOUT = '4h';
export const DEFAULT_ENTROPY_SAMPLES = 64;
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** The least number of samples from which per-position variety means anything. */
const MIN_ENTROPY_SAMPLES = 16;

/** A CSRF side: where the token is read (`input`, `meta`, `cookie`, `header`, `json`) or sent (`field`, `header`). */
export interface CsrfSide<K extends string> {
  kind: K;
  name: string;
}

export interface ResolvedCsrf {
  from: CsrfSide<'input' | 'meta' | 'cookie' | 'header' | 'json'>;
  to: CsrfSide<'field' | 'header'>;
  page: string | undefined;
}

/**
 * Marks options that come from the command line, so that messages name the flags
 * (`--start-path`) instead of the library's option names (`startPath`).
 */
export const NAME_FLAGS: unique symbol = Symbol.for('fixation-guard.attack-suite.name-flags');

/** The flag of every option, for messages printed by the CLI. */
export const OPTION_FLAGS: Readonly<Record<string, string>> = Object.freeze({
  loginBody: '--login-field',
  attackerLoginBody: '--attacker-login-body',
  loginEncoding: '--login-encoding',
  loginPath: '--login-path',
  startPath: '--start-path',
  protectedPath: '--protected',
  logoutPath: '--logout-path',
  logoutMethod: '--logout-method',
  logoutAllPath: '--logout-all-path',
  elevatePath: '--elevate-path',
  elevateBody: '--elevate-body',
  cookieName: '--cookie-name',
  https: '--https',
  clock: '--clock-path',
  clockPath: '--clock-path',
  idleTimeout: '--idle-timeout',
  absoluteTimeout: '--absolute-timeout',
  entropySamples: '--samples',
  only: '--only',
  skip: '--skip',
  requestTimeout: '--timeout',
  headers: '--header',
  failOn: '--fail-on',
  csrf: '--csrf-from',
  'csrf.to': '--csrf-to',
  'csrf.page': '--csrf-page',
});

export interface ResolvedAttackOptions {
  /** How messages name an option: `` `startPath` `` for the library, `--start-path` for the CLI. */
  name(option: string): string;
  logoutMethod: 'GET' | 'POST';
  /** `'auto'`: detected by the probe; `false`: off. */
  csrf: 'auto' | false | ResolvedCsrf;
  loginBody: Record<string, unknown>;
  attackerLoginBody: Record<string, unknown> | undefined;
  loginEncoding: 'json' | 'form';
  loginPath: string;
  startPath: string;
  protectedPath: string;
  logoutPath: string;
  logoutAllPath: string | undefined;
  elevatePath: string | undefined;
  elevateBody: Record<string, unknown>;
  cookieName: string | undefined;
  https: boolean | undefined;
  clock: AttackClock | undefined;
  clockPath: string | undefined;
  idleTimeoutMs: number;
  absoluteTimeoutMs: number;
  entropySamples: number;
  only: ReadonlySet<FixationAttackId> | undefined;
  skip: ReadonlySet<FixationAttackId>;
  requestTimeoutMs: number;
  headers: Record<string, string>;
  failOn: FailOn;
}


function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const CSRF_FROM = /^(input|meta|cookie|header|json):([!#$%&'*+\-.^_`|~0-9A-Za-z:[\]]+)$/;
const CSRF_TO = /^(field|header):([!#$%&'*+\-.^_`|~0-9A-Za-z[\]]+)$/;

/** Where a token read from `from` goes by default (the conventions of csurf, csrf-csrf, Angular, Rails, Spring). */
export function defaultCsrfTo(from: ResolvedCsrf['from']): ResolvedCsrf['to'] {
  switch (from.kind) {
    case 'input':
      return { kind: 'field', name: from.name };
    case 'header':
      return { kind: 'header', name: from.name };
    case 'cookie':
      return { kind: 'header', name: /^xsrf-token$/i.test(from.name) ? 'X-XSRF-TOKEN' : 'X-CSRF-Token' };
    case 'meta':
    case 'json':
      return { kind: 'header', name: 'X-CSRF-Token' };
  }
}

function resolveCsrf(value: FixationAttackOptions['csrf'], name: (option: string) => string, WHERE: string): ResolvedAttackOptions['csrf'] {
  if (value === undefined || value === 'auto') return 'auto';
  if (value === false) return false;
  if (!isPlainObject(value) || typeof value.from !== 'string') {
    throw new TypeError(`${WHERE}: ${name('csrf')} must be 'auto', false or { from: 'input:_csrf' | 'meta:csrf-token' | 'cookie:XSRF-TOKEN' | 'header:X-CSRF-Token' | 'json:csrfToken', to?, page? }; got ${JSON.stringify(value)}`);
  }
  const from = CSRF_FROM.exec(value.from);
  if (!from) {
    throw new Error(`${WHERE}: ${name('csrf')} must be input:<name>, meta:<name>, cookie:<name>, header:<name> or json:<field>; got ${JSON.stringify(value.from)}`);
  }
  const source = { kind: from[1] as ResolvedCsrf['from']['kind'], name: from[2] as string };
  let to = defaultCsrfTo(source);
  if (value.to !== undefined) {
    const m = typeof value.to === 'string' ? CSRF_TO.exec(value.to) : null;
    if (!m) throw new Error(`${WHERE}: ${name('csrf.to')} must be field:<name> or header:<name>; got ${JSON.stringify(value.to)}`);
    to = { kind: m[1] as ResolvedCsrf['to']['kind'], name: m[2] as string };
  }
  return { from: source, to, page: path(value.page, name('csrf.page'), undefined, WHERE) };
}

function path(value: unknown, option: string, fallback: string | undefined, WHERE: string): string | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !value.startsWith('/')) {
    throw new TypeError(`${WHERE}: ${option} must be a path starting with '/'; got ${JSON.stringify(value)}`);
  }
  return value;
}

function idList(value: unknown, option: string, known: ReadonlySet<string>, WHERE: string): Set<FixationAttackId> | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw new TypeError(`${WHERE}: ${option} must be an array of attack ids; got ${JSON.stringify(value)}`);
  for (const id of value) {
    if (!known.has(id)) {
      throw new Error(`${WHERE}: ${option} names an unknown attack ${JSON.stringify(id)}; known attacks: ${[...known].join(', ')}`);
    }
  }
  return new Set(value as FixationAttackId[]);
}

/** Validates the options once, with messages that name the option and show the value. */
export function resolveAttackOptions(input: FixationAttackOptions, knownIds: ReadonlySet<string>): ResolvedAttackOptions {
  const flags = isPlainObject(input) && (input as { [NAME_FLAGS]?: unknown })[NAME_FLAGS] === true;
  const name = (option: string) => (flags ? (OPTION_FLAGS[option] ?? `\`${option}\``) : `\`${option}\``);
  const WHERE = flags ? 'fixation-guard attack' : 'runFixationAttacks';
  if (!isPlainObject(input)) throw new TypeError(`${WHERE}: options must be an object; got ${JSON.stringify(input)}`);
  if (!isPlainObject(input.loginBody)) {
    throw new TypeError(
      `${WHERE}: ${name('loginBody')} must be the object a successful login posts, e.g. { username: 'alice', password: 'alice-password' }; got ${JSON.stringify(input.loginBody)}`,
    );
  }
  if (input.attackerLoginBody !== undefined && !isPlainObject(input.attackerLoginBody)) {
    throw new TypeError(`${WHERE}: ${name('attackerLoginBody')} must be the login body of a second account, e.g. { username: 'mallory', password: 'mallory-password' }; got ${JSON.stringify(input.attackerLoginBody)}`);
  }
  const loginEncoding = input.loginEncoding ?? 'json';
  if (loginEncoding !== 'json' && loginEncoding !== 'form') {
    throw new Error(`${WHERE}: ${name('loginEncoding')} must be 'json' or 'form'; got ${JSON.stringify(input.loginEncoding)}`);
  }
  if (input.elevateBody !== undefined && !isPlainObject(input.elevateBody)) {
    throw new TypeError(`${WHERE}: ${name('elevateBody')} must be an object; got ${JSON.stringify(input.elevateBody)}`);
  }
  if (input.cookieName !== undefined && (typeof input.cookieName !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(input.cookieName))) {
    throw new TypeError(`${WHERE}: ${name('cookieName')} must be a cookie name; got ${JSON.stringify(input.cookieName)}`);
  }
  if (input.https !== undefined && typeof input.https !== 'boolean') {
    throw new TypeError(`${WHERE}: ${name('https')} must be a boolean; got ${JSON.stringify(input.https)}`);
  }
  if (input.clock !== undefined && (typeof input.clock !== 'object' || input.clock === null || typeof input.clock.advance !== 'function')) {
    throw new TypeError(`${WHERE}: ${name('clock')} must have an advance(ms) method (e.g. a ManualClock); got ${typeof input.clock}`);
  }
  if (input.clock !== undefined && input.clockPath !== undefined) {
    throw new Error(`${WHERE}: give either ${name('clock')} (in-process) or ${name('clockPath')} (a running server), not both`);
  }
  const entropySamples = input.entropySamples ?? DEFAULT_ENTROPY_SAMPLES;
  if (!Number.isInteger(entropySamples) || entropySamples < MIN_ENTROPY_SAMPLES) {
    throw new RangeError(`${WHERE}: ${name('entropySamples')} must be an integer of at least ${MIN_ENTROPY_SAMPLES}; got ${JSON.stringify(input.entropySamples)}`);
  }
  refuseRenamedDurations(input, WHERE, { requestTimeoutMs: { to: 'requestTimeout', unit: 'ms' } });
  const requestTimeoutMs = input.requestTimeout === undefined ? DEFAULT_REQUEST_TIMEOUT_MS : parseDuration(input.requestTimeout, `${WHERE}: ${name('requestTimeout')}`);
  if (input.headers !== undefined && !isPlainObject(input.headers)) {
    throw new TypeError(`${WHERE}: ${name('headers')} must be an object of header names to strings; got ${JSON.stringify(input.headers)}`);
  }
  const failOn = input.failOn ?? DEFAULT_FAIL_ON;
  if (!FAIL_ON_VALUES.includes(failOn)) {
    throw new Error(`${WHERE}: ${name('failOn')} must be one of ${FAIL_ON_VALUES.map((v) => `'${v}'`).join(', ')}; got ${JSON.stringify(input.failOn)}`);
  }
  const logoutMethod = input.logoutMethod ?? 'POST';
  if (logoutMethod !== 'GET' && logoutMethod !== 'POST') {
    throw new Error(`${WHERE}: ${name('logoutMethod')} must be GET or POST; got ${JSON.stringify(input.logoutMethod)}`);
  }
  if (input.headers !== undefined) {
    for (const [header, value] of Object.entries(input.headers)) {
      if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(header) || typeof value !== 'string' || /[\r\n]/.test(value)) {
        throw new TypeError(`${WHERE}: ${name('headers')} must map header names to one-line strings; got ${JSON.stringify(header)}`);
      }
    }
  }
  return {
    name,
    logoutMethod,
    csrf: resolveCsrf(input.csrf, name, WHERE),
    loginBody: input.loginBody,
    attackerLoginBody: input.attackerLoginBody,
    loginEncoding,
    loginPath: path(input.loginPath, name('loginPath'), DEFAULT_LOGIN_PATH, WHERE) as string,
    startPath: path(input.startPath, name('startPath'), DEFAULT_START_PATH, WHERE) as string,
    protectedPath: path(input.protectedPath, name('protectedPath'), DEFAULT_PROTECTED_PATH, WHERE) as string,
    logoutPath: path(input.logoutPath, name('logoutPath'), DEFAULT_LOGOUT_PATH, WHERE) as string,
    logoutAllPath: path(input.logoutAllPath, name('logoutAllPath'), undefined, WHERE),
    elevatePath: path(input.elevatePath, name('elevatePath'), undefined, WHERE),
    elevateBody: input.elevateBody ?? {},
    cookieName: input.cookieName,
    https: input.https,
    clock: input.clock,
    clockPath: path(input.clockPath, name('clockPath'), undefined, WHERE),
    idleTimeoutMs: parseDuration(input.idleTimeout ?? DEFAULT_IDLE_TIMEOUT, `${WHERE}: ${name('idleTimeout')}`),
    absoluteTimeoutMs: parseDuration(input.absoluteTimeout ?? DEFAULT_ABSOLUTE_TIMEOUT, `${WHERE}: ${name('absoluteTimeout')}`),
    entropySamples,
    only: idList(input.only, name('only'), knownIds, WHERE),
    skip: idList(input.skip, name('skip'), knownIds, WHERE) ?? new Set(),
    requestTimeoutMs,
    headers: { ...(input.headers as Record<string, string> | undefined) },
    failOn,
  };
}
