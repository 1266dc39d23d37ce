/**
 * Plain HTTP and the Secure cookie. express-session never sends a Secure cookie over plain
 * HTTP and says nothing: a login answers 200, the browser gets no cookie, the next request is
 * anonymous. The guard makes that loud in every case: in development a request from this
 * machine gets a working non-Secure cookie (and one warning); anywhere else a login whose
 * cookie cannot be sent is refused with the fix, never answered 200.
 */
import type { Request } from 'express';
import { SessionGuardError } from '../errors/index.js';
import type { GuardContext } from './context.js';
import type { RequestState } from './request-state.js';

/** `'loopback'`: only plain-HTTP requests from this machine; `'always'`: every request (`true`); `'never'`. */
export type PlainHttpMode = 'loopback' | 'always' | 'never';

const IPV4_LOOPBACK = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

/** 127.0.0.0/8, ::1, and IPv4 loopback mapped into IPv6. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  if (address === '::1') return true;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return IPV4_LOOPBACK.test(v4);
}

/** `localhost`, `*.localhost` (RFC 6761: always loopback in browsers), 127.x.y.z and [::1], with any port. */
export function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  let name = host.trim().toLowerCase();
  if (name.startsWith('[')) {
    const end = name.indexOf(']');
    return end !== -1 && name.slice(1, end) === '::1' && (end === name.length - 1 || /^:\d+$/.test(name.slice(end + 1)));
  }
  const colon = name.indexOf(':');
  if (colon !== -1) {
    if (!/^\d+$/.test(name.slice(colon + 1))) return false;
    name = name.slice(0, colon);
  }
  if (name.endsWith('.')) name = name.slice(0, -1);
  return name === 'localhost' || name.endsWith('.localhost') || IPV4_LOOPBACK.test(name);
}

/** Any of these means a proxy stood in between: the request is not simply "from this machine". */
const PROXY_HEADERS = ['x-forwarded-proto', 'x-forwarded-for', 'x-forwarded-host', 'forwarded', 'x-real-ip'] as const;

/**
 * Whether a request is plain HTTP straight from this machine: the socket's peer is loopback,
 * the Host names loopback (a reverse proxy on the same machine forwarding public traffic keeps
 * the public Host), no proxy header is present, and the connection is not TLS. Both the socket
 * and the Host must agree: a remote client can send `Host: localhost`, but not from 127.0.0.1.
 */
export function isPlainLoopbackRequest(req: Request, headers: Request['headers'] = req.headers): boolean {
  const socket = req.socket as (Request['socket'] & { encrypted?: boolean }) | undefined;
  if (!socket || socket.encrypted) return false;
  if (!isLoopbackAddress(socket.remoteAddress)) return false;
  for (const name of PROXY_HEADERS) if (headers[name] !== undefined) return false;
  return isLoopbackHost(headers.host);
}

/** express-session's own test for "may a Secure cookie be sent on this request". */
export function isSecureRequest(req: Request, trustProxy: boolean | undefined): boolean {
  const socket = req.socket as (Request['socket'] & { encrypted?: boolean }) | undefined;
  if (socket?.encrypted) return true;
  if (trustProxy === false) return false;
  if (trustProxy !== true) return req.secure === true;
  const header = req.headers['x-forwarded-proto'];
  const value = (Array.isArray(header) ? header[0] : header) ?? '';
  return value.split(',')[0]?.trim().toLowerCase() === 'https';
}

/** The error a login over plain HTTP gets when its Secure cookie cannot be sent: the fix, per case. */
export function unsendableCookieMessage(
  action: string,
  cookieName: string,
  mode: PlainHttpMode,
  production: boolean,
  consequence = 'the user would not stay logged in',
): string {
  const head =
    `sessionGuard: ${action} arrived over plain HTTP, and the session cookie '${cookieName}' is Secure, so it cannot be sent: ` +
    `${consequence}. Serve HTTPS; behind a TLS-terminating proxy, set app.set('trust proxy', 1) (or \`trustProxy: true\`) so the request counts as https.`;
  if (production) return head;
  if (mode === 'loopback') {
    return `${head} In development only requests from this machine (http://localhost, no proxy headers) get a non-Secure cookie; for another address (a container, a VM) set \`plainHttpDevelopment: true\`.`;
  }
  return `${head} For local development set \`plainHttpDevelopment: 'loopback'\` (the default outside production) or \`true\`.`;
}

/** Once per guard: the audit event and the process warning (the error itself goes out every time). */
export interface PlainHttpReports {
  loopbackWarned: boolean;
  unsendableReported: boolean;
}

export function createPlainHttpReports(): PlainHttpReports {
  return { loopbackWarned: false, unsendableReported: false };
}

/** The one warning of a guard whose development cookie is served to a plain-HTTP request from this machine. */
export function loopbackWarning(method: string, loopbackName: string, secureName: string): string {
  return (
    `fixation-guard: a ${method} request came over plain HTTP from this machine, so its session cookie is '${loopbackName}' WITHOUT Secure ` +
    `('${secureName}' is Secure and would never be sent over http://). This happens only outside production, for requests from loopback with no proxy headers. ` +
    "In production set NODE_ENV=production (nothing is weakened there) and serve HTTPS; behind a TLS proxy set app.set('trust proxy', 1). " +
    'Set `plainHttpDevelopment: false` to turn this off.'
  );
}

/**
 * A login (or another rotation) on a request whose Secure cookie cannot be sent: refused with
 * the fix instead of answered 200 with no cookie. Audited and warned once per guard.
 */
export function unsendableCookieError(ctx: GuardContext, state: RequestState, ip: string | undefined, action: string): SessionGuardError {
  const message = unsendableCookieMessage(action, state.cookie.name, ctx.plainHttp, ctx.production);
  reportUnsendable(ctx, ip, message);
  return new SessionGuardError('SESSION_CONFIG', message);
}

/** Audit and warn, once per guard, that a Secure cookie could not be sent over plain HTTP. */
export function reportUnsendable(ctx: GuardContext, ip: string | undefined, message: string): void {
  if (ctx.plainHttpReports.unsendableReported) return;
  ctx.plainHttpReports.unsendableReported = true;
  ctx.auditor.emit('config_error', { ip, reason: 'secure cookie over plain HTTP' });
  process.emitWarning(message, { code: 'FIXATION_GUARD_PLAIN_HTTP' });
}
