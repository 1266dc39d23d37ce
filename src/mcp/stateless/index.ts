/**
 * `fixation-guard/mcp/stateless`: the MCP adapter on SDK v2 (`@modelcontextprotocol/server` +
 * `@modelcontextprotocol/express` + `@modelcontextprotocol/node`) for the 2026-07-28 revision:
 * bearer identity per request, a sealed `requestState` codec, principal-scoped state, and
 * 2025-era traffic routed with `isLegacyRequest` to the sessionful guard.
 */
export {
  createMcpStatelessGuard,
  DEFAULT_STATELESS_MCP_PATH,
  REQUEST_STATE_ERROR_MESSAGE,
  type McpStatelessGuard,
  type McpStatelessGuardOptions,
  type McpStatelessContext,
  type McpStatelessRequestStateOptions,
} from './guard.js';
export { type StatelessBearerOptions } from './bearer.js';
export {
  createRequestStateCodec,
  requestStateKeyRing,
  DEFAULT_REQUEST_STATE_TTL_MS,
  MAX_REQUEST_STATE_CHARS,
  type SealedRequestStateCodec,
  type RequestStateCodecOptions,
  type RequestStateBinding,
  type RequestStateOpening,
  type RequestStateRefusal,
  type RequestStateKey,
} from './codec.js';
export { memoryReplayGuard, redisReplayGuard, type ReplayGuard } from './replay.js';
export { memoryStateStore, redisStateStore, DEFAULT_STATE_TTL_MS, type PrincipalStateStore, type PrincipalStateStoreOptions } from './state-store.js';
// The era-independent parts, so an SDK v2 app needs no import of the 1.x SDK.
export { openCredentialVault, memoryCredentialVault, normalizeEmail, CREDENTIAL_STORAGE_MODES, type CredentialVault, type StoredCredential } from '../vault.js';
export { McpGuardError, PermissionError, jsonRpcErrorBody } from '../errors.js';
export { KEY_GENERATION_COMMAND, generateKey } from '../keys.js';
