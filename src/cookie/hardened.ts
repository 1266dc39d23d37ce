import type { CookieOptions } from 'express-session';
import { parseDuration, refuseRenamedDurations } from '../clock/index.js';

/** The default cookie name on https: `__Host-` forbids Domain and other Paths in the browser. */
export const DEFAULT_SECURE_COOKIE_NAME = '__Host-sid';
/** The default name in plain-HTTP development mode (`__Host-` requires Secure). */
export const DEFAULT_PLAIN_HTTP_COOKIE_NAME = 'sid';

export interface HardenedCookieOptions {
  /** The default value is `'__Host-sid'` (or `'sid'` in plain-HTTP development mode). */
  name?: string;
  /** The default value is `'lax'`. `'none'` requires Secure. */
  sameSite?: 'lax' | 'strict' | 'none';
  /** The default value is `true`; `false` only with `plainHttpDevelopment`. */
  secure?: boolean;
  /** The default value is no Domain (host-only). Incompatible with a `__Host-` name. */
  domain?: string;
  /** The default value is `'/'`. Another path is incompatible with a `__Host-` name. */
  path?: string;
  /** Cookie lifetime; the default value is the absolute timeout. */
  maxAge?: number | string;
  /** CHIPS `Partitioned`; the default value is `false`. */
  partitioned?: boolean;
  /** The default value is `'high'`. */
  priority?: 'low' | 'medium' | 'high';
  /** Always true; present only so that `false` can be refused with a clear message. */
  httpOnly?: boolean;
}

export interface ResolvedCookie {
  name: string;
  options: CookieOptions;
}

const SAME_SITE = new Set(['lax', 'strict', 'none']);

/**
 * Turns the user's cookie options into express-session's, refusing every weakening with a
 * message that names the option and the fix.
 */
export function hardenedCookie(
  input: HardenedCookieOptions | undefined,
  context: { plainHttpDevelopment: boolean; defaultMaxAge: number | string; where?: string },
): ResolvedCookie {
  const where = context.where ?? 'sessionGuard';
  refuseRenamedDurations(context, 'hardenedCookie', { defaultMaxAgeMs: { to: 'defaultMaxAge', unit: 'ms' } });
  const opts = input ?? {};
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) {
    throw new TypeError(`${where}: \`cookie\` must be an object; got ${JSON.stringify(input)}`);
  }
  if (opts.httpOnly === false) {
    throw new Error(`${where}: \`cookie.httpOnly\` cannot be false: a session cookie readable by scripts can be stolen by any XSS. Remove the option.`);
  }
  const secure = opts.secure ?? !context.plainHttpDevelopment;
  if (typeof secure !== 'boolean') {
    throw new TypeError(`${where}: \`cookie.secure\` must be a boolean; got ${JSON.stringify(opts.secure)}`);
  }
  if (!secure && !context.plainHttpDevelopment) {
    throw new Error(`${where}: \`cookie.secure\` is false; set it to true, or set \`plainHttpDevelopment: true\` to serve plain HTTP in development.`);
  }
  const sameSite = opts.sameSite ?? 'lax';
  if (!SAME_SITE.has(sameSite as string)) {
    throw new Error(`${where}: \`cookie.sameSite\` must be 'lax', 'strict' or 'none'; got ${JSON.stringify(sameSite)}`);
  }
  if (sameSite === 'none' && !secure) {
    throw new Error(`${where}: \`cookie.sameSite\` is 'none' but the cookie is not Secure; browsers drop such cookies. Use 'lax' or make the cookie Secure.`);
  }
  const path = opts.path ?? '/';
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new Error(`${where}: \`cookie.path\` must be a string starting with '/'; got ${JSON.stringify(opts.path)}`);
  }
  const domain = opts.domain;
  if (domain !== undefined && (typeof domain !== 'string' || domain.length === 0)) {
    throw new Error(`${where}: \`cookie.domain\` must be a non-empty string; got ${JSON.stringify(domain)}`);
  }
  const name = opts.name ?? (secure ? DEFAULT_SECURE_COOKIE_NAME : DEFAULT_PLAIN_HTTP_COOKIE_NAME);
  if (typeof name !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) {
    throw new Error(`${where}: \`cookie.name\` must be a cookie token (letters, digits, !#$%&'*+-.^_\`|~); got ${JSON.stringify(opts.name)}`);
  }
  if (name === 'connect.sid') {
    throw new Error(`${where}: \`cookie.name\` 'connect.sid' announces express-session to every scanner; use '${DEFAULT_SECURE_COOKIE_NAME}'.`);
  }
  if (name.toLowerCase().startsWith('__host-')) {
    if (!secure) throw new Error(`${where}: \`cookie.name\` '${name}' has the __Host- prefix, which requires a Secure cookie; set \`cookie.secure\` to true or pick another name.`);
    if (domain !== undefined) throw new Error(`${where}: \`cookie.domain\` cannot be used with the __Host- cookie name '${name}' (browsers reject it); remove \`cookie.domain\` or rename the cookie.`);
    if (path !== '/') throw new Error(`${where}: \`cookie.path\` must be '/' with the __Host- cookie name '${name}'; got ${JSON.stringify(path)}`);
  }
  if (name.toLowerCase().startsWith('__secure-') && !secure) {
    throw new Error(`${where}: \`cookie.name\` '${name}' has the __Secure- prefix, which requires a Secure cookie.`);
  }
  const maxAge = parseDuration(opts.maxAge ?? context.defaultMaxAge, `${where}: \`cookie.maxAge\``);
  const priority = opts.priority ?? 'high';
  if (!['low', 'medium', 'high'].includes(priority)) {
    throw new Error(`${where}: \`cookie.priority\` must be 'low', 'medium' or 'high'; got ${JSON.stringify(priority)}`);
  }
  const options: CookieOptions = { httpOnly: true, secure, sameSite, path, maxAge, priority };
  if (domain !== undefined) options.domain = domain;
  if (opts.partitioned) options.partitioned = true;
  return { name, options };
}

/**
 * The cookie a plain-HTTP request from this machine gets in development (see
 * `plainHttpDevelopment: 'loopback'`): the same cookie without what plain HTTP cannot carry.
 * Browsers refuse a `__Host-`/`__Secure-` name without Secure, so the prefix goes (`__Host-sid`
 * becomes `sid`), and with it `SameSite=None` (requires Secure; `Lax` instead) and `Partitioned`.
 * A distinct name also keeps the two cookies apart on a host reached both ways.
 */
export function plainHttpCookie(secureCookie: ResolvedCookie): ResolvedCookie {
  const name = secureCookie.name.replace(/^__(?:host|secure)-/i, '') || DEFAULT_PLAIN_HTTP_COOKIE_NAME;
  const { partitioned: _partitioned, ...rest } = secureCookie.options;
  const options: CookieOptions = { ...rest, secure: false };
  if (options.sameSite === 'none') options.sameSite = 'lax';
  return { name, options };
}
