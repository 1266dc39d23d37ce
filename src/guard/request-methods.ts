/**
 * `req.login` & co., the opt-in twins of `req.sessionGuard.login` & co. They are switched on
 * for the whole process by `import 'fixation-guard/request-methods'` (which also declares
 * their types), so the types never promise a `req.login` that is not there — or one that is
 * passport's callback-style `req.login` at run time.
 */
import type { Request } from 'express';
import type { ElevateOptions, LoginOptions, SessionGuardRequestApi } from './request-api.js';

// A global, not a module variable: the ESM and CommonJS builds are two copies of this module,
// and an `import` of the subpath must switch on the guards either copy creates.
const ENABLED = Symbol.for('fixation-guard.request-methods');

/** Called by `fixation-guard/request-methods`. */
export function enableRequestMethods(): void {
  (globalThis as Record<symbol, unknown>)[ENABLED] = true;
}

/** Whether `fixation-guard/request-methods` was imported in this process. */
export function requestMethodsEnabled(): boolean {
  return (globalThis as Record<symbol, unknown>)[ENABLED] === true;
}

/** The guard that handled this request, if it installs request methods. */
function apiFor(req: Request, method: string): SessionGuardRequestApi {
  const api = req.sessionGuard;
  if (!api?.requestMethods) {
    throw new TypeError(`req.${method}() is not enabled here: the sessionGuard() handling this request has \`requestMethods: false\` (or none is mounted). Use req.sessionGuard.${method}().`);
  }
  return api;
}
function login(this: Request, principal: string, options?: LoginOptions): Promise<void> {
  return apiFor(this, 'login').login(principal, options);
}
function logout(this: Request): Promise<void> {
  return apiFor(this, 'logout').logout();
}
function elevate(this: Request, options?: ElevateOptions): Promise<void> {
  return apiFor(this, 'elevate').elevate(options);
}
function logoutEverywhere(this: Request): Promise<number> {
  return apiFor(this, 'logoutEverywhere').logoutEverywhere();
}

const patchedPrototypes = new WeakSet<object>();

/**
 * `req.login` & co. live on the app's request prototype (Express's `app.request`), installed
 * once: per-request own properties would reshape every request object on the hot path. They
 * read `this.sessionGuard`, which is per request. passport owns `req.login` / `req.logout`:
 * its initialize() sets them as own properties, which shadow these, whichever is mounted
 * first; a prototype that already has them (old passport patching IncomingMessage) keeps them.
 */
export function installRequestMethods(req: Request): void {
  const proto = Object.getPrototypeOf(req) as Record<string, unknown> | null;
  if (!proto || patchedPrototypes.has(proto)) return;
  patchedPrototypes.add(proto);
  const methods: Record<string, unknown> = { login, logout, elevate, logoutEverywhere };
  for (const [name, fn] of Object.entries(methods)) {
    if (name in proto) continue;
    Object.defineProperty(proto, name, { value: fn, configurable: true, writable: true, enumerable: false });
  }
}
