/**
 * `fixation-guard/mcp`: session isolation, signed session tokens and credential ACLs for MCP
 * servers on the official TypeScript SDK (Streamable HTTP on Express).
 */
export {
  createMcpSessionGuard,
  DEFAULT_MCP_PATH,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_ABSOLUTE_TIMEOUT_MS,
  DEFAULT_MAX_SESSIONS,
  DEFAULT_PREAUTH_MAX_PER_IP,
  DEFAULT_PREAUTH_MAX_SESSIONS,
  DEFAULT_PREAUTH_IDLE_TIMEOUT_MS,
  type PreAuthLimits,
  SESSION_TOKEN_HEADER,
  type McpSessionGuard,
  type McpSessionGuardOptions,
  type McpSession,
  type McpSessionStatus,
  type McpBearerOptions,
  type SessionIdentity,
  type IssuedSessionToken,
} from './guard.js';
export {
  loadMcpConfigFromEnv,
  McpConfigError,
  DEFAULT_SESSION_TIMEOUT_MINUTES,
  DEFAULT_FORCE_REAUTHENTICATION_HOURS,
  DEFAULT_MAX_SESSIONS_PER_USER,
  DEFAULT_AUDIT_LOG_PATH,
  type McpConfig,
  type LoadMcpConfigOptions,
  type SessionLimitPolicy,
} from './config.js';
export { mcpGuardOptionsFromConfig, type McpGuardOptionsFromConfig } from './from-config.js';
export {
  openCredentialVault,
  memoryCredentialVault,
  normalizeEmail,
  CREDENTIAL_STORAGE_MODES,
  type CredentialVault,
  type CredentialVaultOptions,
  type CredentialStorageMode,
  type StoredCredential,
} from './vault.js';
export { accessCredential, type CredentialAccessSubject, type CredentialAccessContext } from './acl.js';
export { SessionTokenSigner, readSessionToken, SESSION_TOKEN_VERSION, type SessionTokenPayload, type SessionTokenVerification } from './token.js';
export { connectionFingerprint, type FingerprintInput, type FingerprintPolicy } from './fingerprint.js';
export { createMcpRateLimiter, type McpRateLimitOptions, type RateLimitRule, type McpRateLimiter } from './rate-limit.js';
export { registerSessionTools, REVOKE_TOOL_NAME, VALIDATE_RESOURCE_URI } from './session-tools.js';
export { McpGuardError, PermissionError, jsonRpcErrorBody, type McpGuardErrorCode, type JsonRpcErrorBody } from './errors.js';
export { KEY_GENERATION_COMMAND, generateKey } from './keys.js';
