import express, { type NextFunction, type Request, type RequestHandler, type Response, type Router } from 'express';
import {
  createMcpHandler,
  getOAuthProtectedResourceMetadataUrl,
  isJsonContentType,
  type AuthInfo,
  type McpHttpHandler,
  type McpServer,
  type OAuthMetadata,
  type PerRequestResponseMode,
  type Server,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { mcpAuthMetadataRouter } from '@modelcontextprotocol/express';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { Auditor } from '../../audit/index.js';
import { systemClock, type Clock } from '../../clock/index.js';
import { ephemeralKey } from '../../util/hash.js';
import { authorizeCredentialAccess, requireCredential, type CredentialAccessSubject } from '../acl.js';
import { mcpRefuseBatches } from '../batch.js';
import { McpGuardError } from '../errors.js';
import { LOCALHOST_HOSTNAMES, mcpHostOriginCheck } from '../host-origin.js';
import { mcpErrorHandler, mcpJsonBody, sendMcpError } from '../http.js';
import { createMcpRateLimiter, mcpIpRateLimit, mcpPrincipalRateLimit, type McpRateLimitOptions } from '../rate-limit.js';
import { memoryCredentialVault, normalizeEmail, type CredentialVault, type StoredCredential } from '../vault.js';
import { mcpStatelessIdentity, statelessIdentityOf, type StatelessBearerOptions } from './bearer.js';
import { createRequestStateCodec, type RequestStateCodecOptions, type SealedRequestStateCodec } from './codec.js';
import { createStatelessDispatch } from './dispatch.js';
import { mcpEraRouting } from './era.js';
import { memoryReplayGuard, redisReplayGuard, type ReplayGuard } from './replay.js';
import { mcpRequestStateBinding, REQUEST_STATE_ERROR_MESSAGE, type RequestScope } from './state-binding.js';
import { memoryStateStore, type PrincipalStateStore } from './state-store.js';

export { REQUEST_STATE_ERROR_MESSAGE };
export const DEFAULT_STATELESS_MCP_PATH = '/mcp';
/** The revision this guard serves (and whose requests carry no batches). */
const MODERN_REVISION = '2026-07-28';

/** What the app's server factory gets for one 2026-07-28 request. */
export interface McpStatelessContext {
  readonly era: 'modern';
  /** The verified principal (from the bearer token's subject, or the app's `principal`). */
  readonly principal: string;
  readonly authInfo: AuthInfo;
  /** Normalized accounts whose credentials this principal may use. */
  readonly emails: readonly string[];
  /**
   * Spread into the server's options (`new McpServer(info, { ...ctx.serverOptions })`): the
   * handler then reads the verified payload with `ctx.mcpReq.requestState<T>()`. The adapter has
   * already refused any state that fails verification before the request reached the SDK.
   */
  readonly serverOptions: { requestState: { verify: (state: string, ctx: ServerContext) => unknown } };
  /** Seals a payload as `requestState`, bound to this principal, this server and this request. */
  readonly requestState: { mint(payload: unknown): string };
  /** State that spans calls, scoped to this principal: another principal's handle addresses nothing. */
  readonly state: {
    put(value: unknown, options?: { ttl?: number | string }): Promise<string>;
    get(handle: unknown): Promise<unknown>;
    delete(handle: unknown): Promise<boolean>;
  };
  /** A credential through the principal's ACL: `PermissionError` for any other account. */
  getCredential(email: unknown): Promise<StoredCredential>;
  /** Stores a credential for an account in the principal's ACL. */
  storeCredential(email: unknown, credential: StoredCredential): Promise<void>;
}

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

export interface McpStatelessGuard {
  /** Mount with `app.use(guard.router)`: the endpoint, and the discovery documents at the root. */
  readonly router: Router;
  readonly auditor: Auditor;
  readonly vault: CredentialVault;
  readonly codec: SealedRequestStateCodec;
  readonly stateStore: PrincipalStateStore;
  /** The SDK handler behind the adapter (its `notify` publishes list changes). */
  readonly handler: McpHttpHandler;
  close(): Promise<void>;
}

function singleUseGuard(option: McpStatelessRequestStateOptions['singleUse'], clock: Clock): ReplayGuard | undefined {
  if (option === undefined || option === false) return undefined;
  if (option === 'memory') return memoryReplayGuard({ clock });
  if (typeof (option as ReplayGuard).claim === 'function') return option as ReplayGuard;
  if (typeof option === 'object' && option !== null && 'redis' in option) {
    return redisReplayGuard({ client: option.redis, clock, ...(option.keyPrefix ? { keyPrefix: option.keyPrefix } : {}) });
  }
  throw new TypeError(`createMcpStatelessGuard: \`requestState.singleUse\` must be false, 'memory', { redis } or a ReplayGuard; got ${JSON.stringify(option)}`);
}

/**
 * Serves the 2026-07-28 revision on SDK v2 (`createMcpHandler`) with the adapter's security
 * model, and hands 2025-era traffic (`isLegacyRequest`) to the sessionful guard or refuses it.
 *
 * Per request: Origin (and Host) check, per-IP limit, bearer verification as the SDK does it
 * (401 + `WWW-Authenticate` with the protected-resource metadata URL), the principal from the
 * token's subject, per-principal limit, and the echoed `requestState` opened by the sealed
 * codec (bound to principal, audience and originating request; expiring; optionally single
 * use) before the SDK sees the request. A refused state gets one frozen answer; the reason is
 * audited.
 *
 * @example
 * const guard = createMcpStatelessGuard({
 *   resourceServerUrl: 'https://mcp.example.com/mcp',
 *   oauthMetadata,
 *   bearer: { verifier },
 *   requestState: { keys: [{ id: 'k1', secret: process.env.REQUEST_STATE_KEY! }], singleUse: { redis: redisClient } },
 *   createServer(ctx) {
 *     const server = new McpServer({ name: 'mail', version: '1.0.0' }, { ...ctx.serverOptions });
 *     server.registerTool('whoami', { inputSchema: z.object({}) }, async () => ({ content: [{ type: 'text', text: ctx.principal }] }));
 *     return server;
 *   },
 *   legacy: sessionGuard.router,
 * });
 * app.use(guard.router);
 */
export function createMcpStatelessGuard(options: McpStatelessGuardOptions): McpStatelessGuard {
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
  const who = 'createMcpStatelessGuard';
  const clock = options.clock ?? systemClock;
  const auditor = options.audit ?? new Auditor({ hashSecret: ephemeralKey(), clock });
  // The protected resource names its own host: by default nothing else may arrive in `Host`.
  const resourceHost = resourceUrl.hostname.toLowerCase();
  const hostOrigin = mcpHostOriginCheck({
    allowedHosts: options.allowedHosts !== undefined ? options.allowedHosts : LOCALHOST_HOSTNAMES.includes(resourceHost) ? LOCALHOST_HOSTNAMES : [resourceHost],
    allowedOrigins: options.allowedOrigins ?? [],
    auditor,
    who,
  });

  const vault = options.vault ?? memoryCredentialVault();
  const stateStore = options.stateStore ?? memoryStateStore({ clock, audit: auditor });
  const audience = options.requestState.audience ?? resourceUrl.href;
  const { singleUse, ...codecOptions } = options.requestState;
  const replay = singleUseGuard(singleUse, clock);
  const codec = createRequestStateCodec({ ...codecOptions, audience, audit: auditor, clock, ...(replay ? { replay } : {}) });
  const limiter = options.rateLimit === false ? undefined : createMcpRateLimiter(options.rateLimit ?? {}, who);
  const identity = mcpStatelessIdentity({ ...options.bearer, resourceMetadataUrl: getOAuthProtectedResourceMetadataUrl(resourceUrl), auditor });
  const dispatch = createStatelessDispatch();

  function subjectOf(scope: RequestScope): CredentialAccessSubject {
    return { sessionId: scope.id, principal: scope.principal, emails: scope.emails, ip: scope.ip };
  }

  function contextFor(scope: RequestScope): McpStatelessContext {
    return {
      era: 'modern',
      principal: scope.principal,
      authInfo: scope.authInfo,
      emails: [...scope.emails],
      serverOptions: {
        requestState: {
          verify: function verifiedRequestState(state: string) {
            // Opened (and, for single use, consumed) by the adapter before the SDK ran; anything else is refused.
            if (!scope.opened.has(state)) throw new Error('requestState was not verified by the adapter');
            return scope.opened.get(state);
          },
        },
      },
      requestState: {
        mint(payload) {
          if (payload === undefined) throw new TypeError('requestState.mint: the payload must be a JSON value, not undefined');
          return codec.mint(payload, { principal: scope.principal, audience, request: scope.request });
        },
      },
      state: {
        put: (value, putOptions) => stateStore.put(scope.principal, value, putOptions),
        get: (handle) => stateStore.get(scope.principal, handle, scope.ip === undefined ? {} : { ip: scope.ip }),
        delete: (handle) => stateStore.delete(scope.principal, handle),
      },
      getCredential: (email) => requireCredential({ vault, auditor }, subjectOf(scope), email),
      async storeCredential(email, credential) {
        authorizeCredentialAccess(auditor, subjectOf(scope), email, 'write');
        await vault.set(scope.principal, normalizeEmail(email as string), credential);
        auditor.emit('credential_stored', { sessionId: scope.id, principal: scope.principal, detail: { email: normalizeEmail(email as string) } });
      },
    };
  }

  const handler = createMcpHandler(
    async function serverForRequest() {
      const scope = dispatch.current();
      // Only requests that passed the adapter reach the SDK; anything else has no identity to serve.
      if (!scope) throw new McpGuardError('INTERNAL_ERROR', 'Request reached the MCP handler without passing the adapter');
      return options.createServer(contextFor(scope));
    },
    {
      legacy: 'reject',
      ...(options.responseMode ? { responseMode: options.responseMode } : {}),
      onerror: function reportHandlerError(error) {
        // The SDK reports refused requests here too; the adapter has audited its own refusals.
        if (!/requestState|^Rejected inbound request/.test(error.message)) process.emitWarning(`fixation-guard/mcp: ${error.message}`);
      },
    },
  );

  // host / origin → content type → json body → era routing (2025 traffic leaves here) → per-IP
  // rate limit → bearer identity → per-principal rate limit → no batches → request-state binding
  // → dispatch to the SDK handler → JSON-RPC error answers.
  const router = express.Router();
  router.use(mcpAuthMetadataRouter({ oauthMetadata: options.oauthMetadata, resourceServerUrl: resourceUrl }));
  router.all(path, hostOrigin);
  router.all(path, function mcpStatelessContentType(req: Request, res: Response, next: NextFunction) {
    if (req.method === 'POST' && !isJsonContentType(req.headers['content-type'] ?? null)) {
      return sendMcpError(res, new McpGuardError('UNSUPPORTED_MEDIA_TYPE', 'Unsupported Media Type: Content-Type must be application/json'));
    }
    next();
  });
  router.all(path, mcpJsonBody(options.maxBodySize === undefined ? {} : { limit: options.maxBodySize }));
  router.all(path, mcpEraRouting({ legacy }));
  if (limiter) router.all(path, mcpIpRateLimit({ limiter, auditor }));
  router.all(path, identity);
  if (limiter) router.all(path, mcpPrincipalRateLimit({ limiter, auditor, principalOf: (req) => statelessIdentityOf(req)?.principal }));
  router.all(path, mcpRefuseBatches({ auditor, revision: MODERN_REVISION }));
  router.all(path, mcpRequestStateBinding({ codec, audience }));
  router.all(path, dispatch.middleware(toNodeHandler(handler)));
  router.use(path, mcpErrorHandler());

  return {
    router,
    auditor,
    vault,
    codec,
    stateStore,
    handler,
    close: () => handler.close(),
  };
}
