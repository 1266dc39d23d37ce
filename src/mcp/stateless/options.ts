/**
 * The 2026-07-28 guard's options, and their validation at construction.
 */
import type { RequestHandler } from 'express';
import type { McpServer, OAuthMetadata, PerRequestResponseMode, Server } from '@modelcontextprotocol/server';
import type { Auditor } from '../../audit/index.js';
import type { Clock } from '../../clock/index.js';
import type { McpRateLimitOptions } from '../rate-limit.js';
import type { CredentialVault } from '../vault.js';
import type { StatelessBearerOptions } from './bearer.js';
import type { RequestStateCodecOptions } from './codec.js';
import type { McpStatelessContext } from './context.js';
import { memoryReplayGuard, redisReplayGuard, type ReplayGuard } from './replay.js';
import type { PrincipalStateStore } from './state-store.js';

export const DEFAULT_STATELESS_MCP_PATH = '/mcp';
/** The name every construction error starts with. */
export const STATELESS_GUARD_NAME = 'createMcpStatelessGuard';

export interface McpStatelessRequestStateOptions extends Omit<RequestStateCodecOptions, 'audit' | 'clock' | 'replay' | 'audience'> {
  /**
   * Refuse a state the second time it is presented: `'memory'` (one process), a connected
   * node-redis client (a fleet), a `ReplayGuard`, or `false`. The default value is `false`.
   */
  singleUse?: false | 'memory' | { redis: unknown; keyPrefix?: string } | ReplayGuard;
  /** The audience states are bound to. The default value is `resourceServerUrl`. */
  audience?: string;
}

export interface McpStatelessGuardOptions {
  /** Builds the server of one request (SDK v2 `McpServer`), once per request, never shared. */
  createServer: (context: McpStatelessContext) => McpServer | Server | Promise<McpServer | Server>;
  /** The public URL of the MCP endpoint: the protected resource, the default audience. */
  resourceServerUrl: URL | string;
  /** Metadata of the authorization server tokens come from, served for discovery (RFC 8414 / RFC 9728). */
  oauthMetadata: OAuthMetadata;
  bearer: StatelessBearerOptions;
  requestState: McpStatelessRequestStateOptions;
  /** Cross-call state. The default value is a memory store (one process); use `redisStateStore` for a fleet. */
  stateStore?: PrincipalStateStore;
  /**
   * 2025-era traffic (`isLegacyRequest`): an Express handler serving it (for example the
   * sessionful `createMcpSessionGuard({…}).router`), or `'reject'`. The default value is `'reject'`.
   */
  legacy?: RequestHandler | 'reject';
  /** Where credentials live. The default value is an in-memory vault. */
  vault?: CredentialVault;
  /** Per-IP and per-principal limits, or `false`. The default value is 300 requests per minute for each. */
  rateLimit?: McpRateLimitOptions | false;
  /** Browser origins allowed to call; requests without `Origin` pass. The default value is `[]`. */
  allowedOrigins?: readonly string[];
  /**
   * Host names allowed in `Host` (DNS rebinding), port-agnostic, or `false`. The default value is the host of `resourceServerUrl`, plus the
   * SDK's localhost names when that host is a localhost name.
   */
  allowedHosts?: readonly string[] | false;
  /** The endpoint's path. The default value is `'/mcp'`. */
  path?: string;
  /** The default value is `'1mb'`. */
  maxBodySize?: string | number;
  /** The default value is `'auto'`. */
  responseMode?: PerRequestResponseMode;
  audit?: Auditor;
  clock?: Clock;
}

/** What the options resolve to before the pieces are built. */
export interface ResolvedStatelessOptions {
  resourceUrl: URL;
  path: string;
  legacy: RequestHandler | 'reject';
}

/** Validates what the pieces do not validate themselves; throws `TypeError` naming the option. */
export function resolveStatelessOptions(options: McpStatelessGuardOptions): ResolvedStatelessOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('createMcpStatelessGuard: `options` must be an object');
  if (typeof options.createServer !== 'function') {
    throw new TypeError(`createMcpStatelessGuard: \`createServer\` must be a function returning a new McpServer per request; got ${typeof options.createServer}`);
  }
  let resourceUrl: URL;
  try {
    resourceUrl = new URL(String(options.resourceServerUrl));
  } catch {
    throw new TypeError(`createMcpStatelessGuard: \`resourceServerUrl\` must be the endpoint's public URL, like 'https://mcp.example.com/mcp'; got ${JSON.stringify(options.resourceServerUrl)}`);
  }
  if (typeof options.oauthMetadata !== 'object' || options.oauthMetadata === null) {
    throw new TypeError('createMcpStatelessGuard: `oauthMetadata` must be the authorization server metadata (RFC 8414) clients discover through the 401 challenge');
  }
  if (typeof options.bearer !== 'object' || options.bearer === null) throw new TypeError('createMcpStatelessGuard: `bearer` must be { verifier, … }');
  if (typeof options.requestState !== 'object' || options.requestState === null) {
    throw new TypeError('createMcpStatelessGuard: `requestState` must be { keys: [{ id, secret }], … }');
  }
  const path = options.path ?? DEFAULT_STATELESS_MCP_PATH;
  if (typeof path !== 'string' || !path.startsWith('/')) throw new TypeError(`createMcpStatelessGuard: \`path\` must start with '/'; got ${JSON.stringify(path)}`);
  const legacy = options.legacy ?? 'reject';
  if (legacy !== 'reject' && typeof legacy !== 'function') {
    throw new TypeError(`createMcpStatelessGuard: \`legacy\` must be an Express handler (e.g. createMcpSessionGuard({…}).router) or 'reject'; got ${JSON.stringify(legacy)}`);
  }
  return { resourceUrl, path, legacy };
}

/** The replay guard `requestState.singleUse` asks for, or `undefined`. */
export function singleUseGuard(option: McpStatelessRequestStateOptions['singleUse'], clock: Clock): ReplayGuard | undefined {
  if (option === undefined || option === false) return undefined;
  if (option === 'memory') return memoryReplayGuard({ clock });
  if (typeof (option as ReplayGuard).claim === 'function') return option as ReplayGuard;
  if (typeof option === 'object' && option !== null && 'redis' in option) {
    return redisReplayGuard({ client: option.redis, clock, ...(option.keyPrefix ? { keyPrefix: option.keyPrefix } : {}) });
  }
  throw new TypeError(`createMcpStatelessGuard: \`requestState.singleUse\` must be false, 'memory', { redis } or a ReplayGuard; got ${JSON.stringify(option)}`);
}

