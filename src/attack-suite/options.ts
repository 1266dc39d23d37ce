import { parseDuration, refuseRenamedDurations } from '../clock/index.js';
import type { AttackClock, FixationAttackId, FixationAttackOptions } from './types.js';

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

export interface ResolvedAttackOptions {
  loginBody: Record<string, unknown>;
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
}

const WHERE = 'runFixationAttacks';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function path(value: unknown, option: string, fallback?: string): string | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !value.startsWith('/')) {
    throw new TypeError(`${WHERE}: \`${option}\` must be a path starting with '/'; got ${JSON.stringify(value)}`);
  }
  return value;
}

function idList(value: unknown, option: string, known: ReadonlySet<string>): Set<FixationAttackId> | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw new TypeError(`${WHERE}: \`${option}\` must be an array of attack ids; got ${JSON.stringify(value)}`);
  for (const id of value) {
    if (!known.has(id)) {
      throw new Error(`${WHERE}: \`${option}\` names an unknown attack ${JSON.stringify(id)}; known attacks: ${[...known].join(', ')}`);
    }
  }
  return new Set(value as FixationAttackId[]);
}

/** Validates the options once, with messages that name the option and show the value. */
export function resolveAttackOptions(input: FixationAttackOptions, knownIds: ReadonlySet<string>): ResolvedAttackOptions {
  if (!isPlainObject(input)) throw new TypeError(`${WHERE}: options must be an object; got ${JSON.stringify(input)}`);
  if (!isPlainObject(input.loginBody)) {
    throw new TypeError(
      `${WHERE}: \`loginBody\` must be the object a successful login posts, e.g. { username: 'alice', password: 'alice-password' }; got ${JSON.stringify(input.loginBody)}`,
    );
  }
  const loginEncoding = input.loginEncoding ?? 'json';
  if (loginEncoding !== 'json' && loginEncoding !== 'form') {
    throw new Error(`${WHERE}: \`loginEncoding\` must be 'json' or 'form'; got ${JSON.stringify(input.loginEncoding)}`);
  }
  if (input.elevateBody !== undefined && !isPlainObject(input.elevateBody)) {
    throw new TypeError(`${WHERE}: \`elevateBody\` must be an object; got ${JSON.stringify(input.elevateBody)}`);
  }
  if (input.cookieName !== undefined && (typeof input.cookieName !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(input.cookieName))) {
    throw new TypeError(`${WHERE}: \`cookieName\` must be a cookie name; got ${JSON.stringify(input.cookieName)}`);
  }
  if (input.https !== undefined && typeof input.https !== 'boolean') {
    throw new TypeError(`${WHERE}: \`https\` must be a boolean; got ${JSON.stringify(input.https)}`);
  }
  if (input.clock !== undefined && (typeof input.clock !== 'object' || input.clock === null || typeof input.clock.advance !== 'function')) {
    throw new TypeError(`${WHERE}: \`clock\` must have an advance(ms) method (e.g. a ManualClock); got ${typeof input.clock}`);
  }
  if (input.clock !== undefined && input.clockPath !== undefined) {
    throw new Error(`${WHERE}: give either \`clock\` (in-process) or \`clockPath\` (a running server), not both`);
  }
  const entropySamples = input.entropySamples ?? DEFAULT_ENTROPY_SAMPLES;
  if (!Number.isInteger(entropySamples) || entropySamples < MIN_ENTROPY_SAMPLES) {
    throw new RangeError(`${WHERE}: \`entropySamples\` must be an integer of at least ${MIN_ENTROPY_SAMPLES}; got ${JSON.stringify(input.entropySamples)}`);
  }
  refuseRenamedDurations(input, WHERE, { requestTimeoutMs: { to: 'requestTimeout', unit: 'ms' } });
  const requestTimeoutMs = input.requestTimeout === undefined ? DEFAULT_REQUEST_TIMEOUT_MS : parseDuration(input.requestTimeout, `${WHERE}: \`requestTimeout\``);
  if (input.headers !== undefined && !isPlainObject(input.headers)) {
    throw new TypeError(`${WHERE}: \`headers\` must be an object of header names to strings; got ${JSON.stringify(input.headers)}`);
  }
  return {
    loginBody: input.loginBody,
    loginEncoding,
    loginPath: path(input.loginPath, 'loginPath', DEFAULT_LOGIN_PATH) as string,
    startPath: path(input.startPath, 'startPath', DEFAULT_START_PATH) as string,
    protectedPath: path(input.protectedPath, 'protectedPath', DEFAULT_PROTECTED_PATH) as string,
    logoutPath: path(input.logoutPath, 'logoutPath', DEFAULT_LOGOUT_PATH) as string,
    logoutAllPath: path(input.logoutAllPath, 'logoutAllPath'),
    elevatePath: path(input.elevatePath, 'elevatePath'),
    elevateBody: input.elevateBody ?? {},
    cookieName: input.cookieName,
    https: input.https,
    clock: input.clock,
    clockPath: path(input.clockPath, 'clockPath'),
    idleTimeoutMs: parseDuration(input.idleTimeout ?? DEFAULT_IDLE_TIMEOUT, `${WHERE}: \`idleTimeout\``),
    absoluteTimeoutMs: parseDuration(input.absoluteTimeout ?? DEFAULT_ABSOLUTE_TIMEOUT, `${WHERE}: \`absoluteTimeout\``),
    entropySamples,
    only: idList(input.only, 'only', knownIds),
    skip: idList(input.skip, 'skip', knownIds) ?? new Set(),
    requestTimeoutMs,
    headers: { ...(input.headers as Record<string, string> | undefined) },
  };
}
