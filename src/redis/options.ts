import { parseDuration, type RenamedDuration } from '../clock/index.js';
import type { RedisScriptingClient } from './scripts.js';

/**
 * How long one Redis operation may take before the request gets a 503 instead of waiting.
 * Sessions are read on every request; a Redis that stopped answering must not hold them.
 */
export const DEFAULT_OPERATION_TIMEOUT_MS = 2_000;

/**
 * How long an index entry whose session was never written survives pruning: another instance
 * may be between `admit` and the first save of that session.
 */
export const DEFAULT_PENDING_GRACE_MS = 60_000;

/** Throws the TypeError every constructor gives for a missing or non-object options argument. */
export function checkOptionsObject(options: unknown, who: string, expected: string): void {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`${who}: expected ${expected}; got ${options === null ? 'null' : typeof options}`);
  }
}

/** Checks that `client` looks like a node-redis client; returns it typed for the scripts. */
export function checkClient(client: unknown, who: string): RedisScriptingClient {
  if (
    typeof client !== 'object' ||
    client === null ||
    typeof (client as Partial<RedisScriptingClient>).evalSha !== 'function' ||
    typeof (client as Partial<RedisScriptingClient>).eval !== 'function'
  ) {
    throw new TypeError(
      `${who}: \`client\` must be a node-redis client (createClient() or createCluster() from 'redis'); ` +
        `got ${client === null ? 'null' : typeof client}`,
    );
  }
  return client as RedisScriptingClient;
}

/** A duration option (`'2s'` or milliseconds), or the default when undefined. */
export function durationMs(value: unknown, fallback: number, who: string, option: string): number {
  if (value === undefined) return fallback;
  return parseDuration(value, `${who}: \`${option}\``);
}

/** The Redis options renamed when every duration became one form. */
export const RENAMED_REDIS_DURATIONS: Readonly<Record<string, RenamedDuration>> = Object.freeze({
  ttl: { to: 'sessionTtl', unit: 'seconds' },
  operationTimeoutMs: { to: 'operationTimeout', unit: 'ms' },
  connectTimeoutMs: { to: 'connectTimeout', unit: 'ms' },
  reconnectMaxDelayMs: { to: 'reconnectMaxDelay', unit: 'ms' },
  pendingGraceMs: { to: 'pendingGrace', unit: 'ms' },
});
