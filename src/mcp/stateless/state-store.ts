import { createHash, randomBytes } from 'node:crypto';
import type { Auditor } from '../../audit/index.js';
import { parseDuration, systemClock, type Clock } from '../../clock/index.js';
import type { RedisLikeClient } from './replay.js';

/**
 * State that spans calls without a protocol session, keyed by (principal, handle). A handle is
 * a random name the client may hold; presented under any other principal it addresses nothing,
 * which is the stateless era's answer to session fixation: there is no id to plant or steal
 * that carries anyone's rights. Every cross-principal attempt is audited.
 */
export interface PrincipalStateStore {
  /** Stores a JSON value for `principal` and answers a fresh handle for it. */
  put(principal: string, value: unknown, options?: { ttl?: number | string }): Promise<string>;
  /** The value `principal` stored under `handle`, or `undefined` (unknown, expired, or another principal's). */
  get(principal: string, handle: unknown, context?: { ip?: string }): Promise<unknown>;
  /** Deletes `principal`'s value under `handle`; `false` when there was none. */
  delete(principal: string, handle: unknown): Promise<boolean>;
}

export interface PrincipalStateStoreOptions {
  /** How long a value lives unless `put` says otherwise. The default value is `'30m'`. */
  ttl?: number | string;
  /** Receives `state_handle_cross_principal`. */
  audit?: Auditor;
  /** The default value is the system clock. */
  clock?: Clock;
}

export const DEFAULT_STATE_TTL_MS = 30 * 60_000;
const HANDLE_BYTES = 24;
const HANDLE_RE = /^[A-Za-z0-9_-]{32}$/;

/** A fresh handle: 192 random bits, base64url. */
function newHandle(): string {
  return randomBytes(HANDLE_BYTES).toString('base64url');
}

/** Whether a presented handle has the form `newHandle` gives (anything else addresses nothing). */
function isHandle(handle: unknown): handle is string {
  return typeof handle === 'string' && HANDLE_RE.test(handle);
}
const MAX_VALUE_CHARS = 1_000_000;

/** A principal as a fixed-length key part: no separator in a principal can reach another key. */
function ownerKey(principal: string): string {
  return createHash('sha256').update(principal).digest('base64url');
}

function checkPrincipal(principal: unknown, where: string): asserts principal is string {
  if (typeof principal !== 'string' || principal.length === 0) throw new TypeError(`${where}: \`principal\` must be a non-empty string`);
}

function serialize(value: unknown, where: string): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`${where}: the value must be JSON-serializable; got ${typeof value}`);
  if (text.length > MAX_VALUE_CHARS) throw new RangeError(`${where}: the value is ${text.length} characters as JSON; the limit is ${MAX_VALUE_CHARS}`);
  return text;
}

function resolveTtl(value: number | string | undefined, fallback: number, where: string): number {
  return value === undefined ? fallback : parseDuration(value, `${where}: \`ttl\``);
}

function common(options: PrincipalStateStoreOptions, where: string) {
  const clock = options.clock ?? systemClock;
  const ttlMs = resolveTtl(options.ttl, DEFAULT_STATE_TTL_MS, where);
  function crossPrincipal(principal: string, ip: string | undefined): void {
    options.audit?.emit('state_handle_cross_principal', { principal, ip, reason: 'handle_of_other_principal' });
  }
  return { clock, ttlMs, crossPrincipal };
}

/**
 * The principal-scoped state store for one process.
 *
 * @example
 * const store = memoryStateStore({ ttl: '15m', audit: auditor });
 * const handle = await store.put('alice', { draft: 3 });
 * await store.get('bob', handle); // undefined, and a state_handle_cross_principal event
 */
export function memoryStateStore(options: PrincipalStateStoreOptions & { maxEntries?: number } = {}): PrincipalStateStore {
  const where = 'memoryStateStore';
  const { clock, ttlMs, crossPrincipal } = common(options, where);
  const maxEntries = options.maxEntries ?? 100_000;
  const values = new Map<string, { json: string; expiresAt: number }>();
  const owners = new Map<string, { owner: string; expiresAt: number }>();
  function sweep(now: number): void {
    for (const [key, entry] of values) if (entry.expiresAt <= now) values.delete(key);
    for (const [handle, entry] of owners) if (entry.expiresAt <= now) owners.delete(handle);
  }
  return {
    async put(principal, value, putOptions = {}) {
      checkPrincipal(principal, where);
      const json = serialize(value, where);
      const now = clock.now();
      if (values.size >= maxEntries) sweep(now);
      if (values.size >= maxEntries) throw new RangeError(`${where}: full (${maxEntries} live values); raise \`maxEntries\` or shorten \`ttl\``);
      const handle = newHandle();
      const expiresAt = now + resolveTtl(putOptions.ttl, ttlMs, where);
      const owner = ownerKey(principal);
      owners.set(handle, { owner, expiresAt });
      values.set(`${owner}:${handle}`, { json, expiresAt });
      return handle;
    },
    async get(principal, handle, context = {}) {
      checkPrincipal(principal, where);
      if (!isHandle(handle)) return undefined;
      const now = clock.now();
      const owner = ownerKey(principal);
      const entry = values.get(`${owner}:${handle}`);
      if (entry && entry.expiresAt > now) return JSON.parse(entry.json);
      const known = owners.get(handle);
      if (known && known.expiresAt > now && known.owner !== owner) crossPrincipal(principal, context.ip);
      return undefined;
    },
    async delete(principal, handle) {
      checkPrincipal(principal, where);
      if (!isHandle(handle)) return false;
      const deleted = values.delete(`${ownerKey(principal)}:${handle}`);
      if (deleted) owners.delete(handle);
      return deleted;
    },
  };
}

/**
 * The principal-scoped state store on Redis (node-redis v4+): every instance of a fleet reads
 * what another stored, values expire with Redis TTLs (and are checked against the clock too).
 *
 * @example
 * const store = redisStateStore({ client: redisClient, audit: auditor });
 */
export function redisStateStore(options: PrincipalStateStoreOptions & { client: unknown; keyPrefix?: string }): PrincipalStateStore {
  const where = 'redisStateStore';
  const client = options.client as RedisLikeClient;
  if (typeof client?.set !== 'function' || typeof client.get !== 'function') throw new TypeError(`${where}: \`client\` must be a connected node-redis client`);
  const { clock, ttlMs, crossPrincipal } = common(options, where);
  const prefix = options.keyPrefix ?? 'fg:mcp:state:';
  return {
    async put(principal, value, putOptions = {}) {
      checkPrincipal(principal, where);
      const json = serialize(value, where);
      const ttl = resolveTtl(putOptions.ttl, ttlMs, where);
      const expiresAt = clock.now() + ttl;
      const handle = newHandle();
      const owner = ownerKey(principal);
      // The owner record first: a value never exists without it, so a cross-principal probe is always seen.
      await client.set(`${prefix}o:${handle}`, JSON.stringify({ o: owner, e: expiresAt }), { expiration: { type: 'PX', value: ttl } });
      await client.set(`${prefix}v:${owner}:${handle}`, JSON.stringify({ e: expiresAt, v: json }), { expiration: { type: 'PX', value: ttl } });
      return handle;
    },
    async get(principal, handle, context = {}) {
      checkPrincipal(principal, where);
      if (!isHandle(handle)) return undefined;
      const now = clock.now();
      const owner = ownerKey(principal);
      const raw = await client.get(`${prefix}v:${owner}:${handle}`);
      if (typeof raw === 'string') {
        const entry = JSON.parse(raw) as { e: number; v: string };
        if (entry.e > now) return JSON.parse(entry.v);
        return undefined;
      }
      const ownerRaw = await client.get(`${prefix}o:${handle}`);
      if (typeof ownerRaw === 'string') {
        const known = JSON.parse(ownerRaw) as { o: string; e: number };
        if (known.e > now && known.o !== owner) crossPrincipal(principal, context.ip);
      }
      return undefined;
    },
    async delete(principal, handle) {
      checkPrincipal(principal, where);
      if (!isHandle(handle)) return false;
      const removed = Number(await client.del(`${prefix}v:${ownerKey(principal)}:${handle}`));
      if (removed > 0) await client.del(`${prefix}o:${handle}`);
      return removed > 0;
    },
  };
}
