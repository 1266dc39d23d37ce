import type { RequestHandler } from 'express';
import type { Auditor } from '../audit/index.js';
import { McpGuardError } from './errors.js';
import { sendMcpError } from './http.js';

/** The hostnames the SDK's `localhostHostValidation()` allows, and this adapter's default. */
export const LOCALHOST_HOSTNAMES: readonly string[] = Object.freeze(['localhost', '127.0.0.1', '[::1]']);

export interface HostOriginOptions {
  /**
   * Hostnames (no port) the `Host` header may name; `false` turns the check off. The default
   * value is `['localhost', '127.0.0.1', '[::1]']`: a server reached under a public name must
   * list it (`ALLOWED_HOSTS`), or every request is refused with 403.
   */
  allowedHosts?: readonly string[] | false;
  /** Browser origins allowed to call the endpoint; requests without `Origin` pass. The default value is `[]`. */
  allowedOrigins?: readonly string[];
  auditor: Auditor;
  /** The guard named in construction errors. The default value is `'createMcpSessionGuard'`. */
  who?: string;
}

/** `host[:port]` with nothing else: no userinfo (`evil@127.0.0.1`), path, or whitespace. */
const HOST_HEADER_RE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/;

function hostnameOf(host: string): string | undefined {
  // The URL parser would read `evil.example.com:80@127.0.0.1` as userinfo + 127.0.0.1.
  if (!HOST_HEADER_RE.test(host)) return undefined;
  try {
    return new URL(`http://${host}`).hostname;
  } catch {
    return undefined;
  }
}

/** Validates `allowedHosts` at construction: bare hostnames, lower-cased, IPv6 in brackets. */
export function resolveAllowedHosts(value: readonly string[] | false | undefined, who: string): ReadonlySet<string> | undefined {
  if (value === false) return undefined;
  if (value !== undefined && !Array.isArray(value)) {
    throw new TypeError(`${who}: \`allowedHosts\` must be an array of hostnames or false; got ${typeof value}`);
  }
  const hosts = new Set<string>();
  for (const host of value ?? LOCALHOST_HOSTNAMES) {
    const parsed = typeof host === 'string' ? hostnameOf(host) : undefined;
    if (parsed === undefined || parsed !== host.toLowerCase() || host.length === 0) {
      throw new TypeError(`${who}: \`allowedHosts\` must hold hostnames without scheme or port, like 'mcp.example.com' or '[::1]'; got ${JSON.stringify(host)}`);
    }
    hosts.add(parsed);
  }
  return hosts;
}

/** Validates `allowedOrigins` at construction and normalizes each to its origin. */
export function resolveAllowedOrigins(value: readonly string[] | undefined, who: string): ReadonlySet<string> {
  return new Set(
    (value ?? []).map(function normalizeOrigin(origin) {
      try {
        return new URL(origin).origin;
      } catch {
        throw new TypeError(`${who}: \`allowedOrigins\` must hold origins like 'https://app.example.com'; got ${JSON.stringify(origin)}`);
      }
    }),
  );
}

/**
 * DNS-rebinding and cross-origin protection, before anything else runs. A page on
 * `evil.example.com` that re-points its DNS name at 127.0.0.1 reaches a local MCP server with
 * `Host: evil.example.com` and, for simple requests, possibly no `Origin`: the Host allowlist
 * stops it. A page on another origin that does send `Origin` is stopped by the Origin allowlist
 * (the SDK's `createMcpExpressApp` checks Host only).
 *
 * @example
 * router.all('/mcp', mcpHostOriginCheck({ allowedHosts: ['mcp.example.com'], allowedOrigins: [], auditor }));
 */
export function mcpHostOriginCheck(options: HostOriginOptions): RequestHandler {
  const who = options.who ?? 'createMcpSessionGuard';
  const hosts = resolveAllowedHosts(options.allowedHosts, who);
  const origins = resolveAllowedOrigins(options.allowedOrigins, who);
  const { auditor } = options;
  return function mcpHostOriginMiddleware(req, res, next) {
    if (hosts !== undefined) {
      const host = req.headers.host;
      const hostname = typeof host === 'string' ? hostnameOf(host) : undefined;
      if (hostname === undefined || !hosts.has(hostname)) {
        auditor.emit('host_rejected', { ip: req.ip, detail: { host: typeof host === 'string' ? host.slice(0, 200) : null } });
        return sendMcpError(res, new McpGuardError('HOST_REJECTED', 'Forbidden: host not allowed'));
      }
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !origins.has(origin)) {
      auditor.emit('origin_rejected', { ip: req.ip, detail: { origin: String(origin).slice(0, 200) } });
      return sendMcpError(res, new McpGuardError('ORIGIN_REJECTED', 'Forbidden: origin not allowed'));
    }
    next();
  };
}
