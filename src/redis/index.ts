/**
 * `fixation-guard/redis`: the guard's guarantees across a fleet of app instances sharing one
 * Redis. See docs/readme/redis.md ("Running a fleet") for setup, key layout and failure
 * behaviour.
 */
export { createRedisClusterSessionStores, createRedisSessionStores, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_RECONNECT_MAX_DELAY_MS, DEFAULT_REDIS_URL } from './stores.js';
export type {
  CreateRedisClusterSessionStoresOptions,
  CreateRedisSessionStoresOptions,
  FleetRedisClient,
  FleetRedisCluster,
  RedisClusterSessionStores,
  RedisSessionStores,
} from './stores.js';
export { RedisSessionStore, DEFAULT_SESSION_TTL_MS, principalOf } from './store.js';
export type { RedisSessionStoreOptions } from './store.js';
export { RedisSessionIndex } from './session-index.js';
export type { RedisSessionIndexOptions } from './session-index.js';
export { SessionRenameConflictError } from './errors.js';
export type { RenameConflictReason } from './errors.js';
export { DEFAULT_PREFIX, DEFAULT_SPREAD_PREFIX, KeyLayout, SLOT_TAG_LENGTH, validatePrefix } from './keys.js';
export type { KeyLayoutKind } from './keys.js';
export { DEFAULT_OPERATION_TIMEOUT_MS, DEFAULT_PENDING_GRACE_MS } from './options.js';
export type { RedisScriptingClient } from './scripts.js';
export { createRedisMcpFleet } from './mcp-fleet.js';
export type { RedisMcpFleetOptions } from './mcp-fleet.js';
export { redisCredentialVault } from './credential-vault.js';
export type { RedisCredentialVaultOptions } from './credential-vault.js';
export { migrateSessionPrefix, CONNECT_REDIS_DEFAULT_PREFIX } from './migrate.js';
export type { MigrateSessionPrefixOptions, MigrateSessionPrefixResult } from './migrate.js';
