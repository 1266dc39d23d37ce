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

/** Validates a positive number of milliseconds, or returns the default when undefined. */
export function positiveMs(value: unknown, fallback: number, who: string, option: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') {
    throw new TypeError(`${who}: \`${option}\` must be a number of milliseconds; got ${typeof value}`);
  }
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${who}: \`${option}\` must be a positive number of milliseconds; got ${value}`);
  }
  return value;
}
