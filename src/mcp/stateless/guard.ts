/**
 * `createMcpStatelessGuard`: the 2026-07-28 MCP endpoint on SDK v2, composed of small
 * middlewares; this file only builds and orders them (see the order below).
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { createMcpHandler, getOAuthProtectedResourceMetadataUrl, isJsonContentType, type McpHttpHandler } from '@modelcontextprotocol/server';
import { mcpAuthMetadataRouter } from '@modelcontextprotocol/express';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { Auditor } from '../../audit/index.js';
import { systemClock } from '../../clock/index.js';
import { ephemeralKey } from '../../util/hash.js';
import { mcpRefuseBatches } from '../batch.js';
import { McpGuardError } from '../errors.js';
import { LOCALHOST_HOSTNAMES, mcpHostOriginCheck } from '../host-origin.js';
import { mcpErrorHandler, mcpJsonBody, sendMcpError } from '../http.js';
import { createMcpRateLimiter, mcpIpRateLimit, mcpPrincipalRateLimit } from '../rate-limit.js';
import { memoryCredentialVault, type CredentialVault } from '../vault.js';
import { mcpStatelessIdentity, statelessIdentityOf } from './bearer.js';
import { createRequestStateCodec, type SealedRequestStateCodec } from './codec.js';
import { statelessContext } from './context.js';
import { createStatelessDispatch } from './dispatch.js';
import { mcpEraRouting } from './era.js';
import { resolveStatelessOptions, singleUseGuard, STATELESS_GUARD_NAME, type McpStatelessGuardOptions } from './options.js';
import { mcpRequestStateBinding, REQUEST_STATE_ERROR_MESSAGE } from './state-binding.js';
import { memoryStateStore, type PrincipalStateStore } from './state-store.js';

export { REQUEST_STATE_ERROR_MESSAGE };
export { DEFAULT_STATELESS_MCP_PATH, type McpStatelessGuardOptions, type McpStatelessRequestStateOptions } from './options.js';
export type { McpStatelessContext } from './context.js';

/** The revision this guard serves (and whose requests carry no batches). */
const MODERN_REVISION = '2026-07-28';

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
  const { resourceUrl, path, legacy } = resolveStatelessOptions(options);
  const who = STATELESS_GUARD_NAME;
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

  const handler = createMcpHandler(
    async function serverForRequest() {
      const scope = dispatch.current();
      // Only requests that passed the adapter reach the SDK; anything else has no identity to serve.
      if (!scope) throw new McpGuardError('INTERNAL_ERROR', 'Request reached the MCP handler without passing the adapter');
      return options.createServer(statelessContext({ codec, audience, stateStore, vault, auditor }, scope));
    },
    {
      legacy: 'reject',
      ...(options.responseMode ? { responseMode: options.responseMode } : {}),
      onerror: function reportHandlerError(error) {
        // The SDK reports refused requests here too (the adapter has audited its own refusals), a
        // 2025-era request on this endpoint without a legacy handler, and a client's unsupported
        // protocol version, each of which the SDK has answered: none is the server's fault, and a
        // warning per request would let any client fill the operator's log.
        if (!/requestState|^Rejected inbound request|^Rejected 2025-era request|^Unsupported protocol version/.test(error.message)) process.emitWarning(`fixation-guard/mcp: ${error.message}`);
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
