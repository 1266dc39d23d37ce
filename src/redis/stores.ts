import type { SessionData } from 'express-session';
import { createClient, createCluster } from 'redis';
import { DEFAULT_PREFIX, DEFAULT_SPREAD_PREFIX, type KeyLayoutKind } from './keys.js';
import { refuseRenamedDurations } from '../clock/index.js';
import { DEFAULT_OPERATION_TIMEOUT_MS, RENAMED_REDIS_DURATIONS, checkOptionsObject, durationMs } from './options.js';
import { RedisSessionIndex } from './session-index.js';
import { RedisSessionStore, type RedisSessionStoreOptions } from './store.js';

const WHO = 'createRedisSessionStores';

/** The URL used when neither `url` nor `client` is given (node-redis's own default). */
export const DEFAULT_REDIS_URL = 'redis://localhost:6379';
/** How long one connection attempt may take. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 2_000;
/** The longest pause between two reconnection attempts (they go on for ever). */
export const DEFAULT_RECONNECT_MAX_DELAY_MS = 2_000;

/** The client `createRedisSessionStores` builds (node-redis `createClient`). */
export type FleetRedisClient = ReturnType<typeof createClient>;

export interface CreateRedisSessionStoresOptions {
  /** Where Redis is, when no `client` is given. Default `'redis://localhost:6379'`. */
  url?: string;
  /**
   * Your own node-redis client (e.g. `createCluster()`), connected by you and closed by you.
   * Give it `disableOfflineQueue: true`; an `'error'` listener is added when it has none.
   */
  client?: unknown;
  /** Key prefix with a Redis Cluster hash tag. Default `'fg:{fg}:'` (`'fg:'` with `keyLayout: 'spread'`). */
  prefix?: string;
  /** `'deployment'` (default, every key in one slot) or `'spread'` (a cluster's slots; see `createRedisClusterSessionStores`). */
  keyLayout?: KeyLayoutKind;
  /** `keyLayout: 'spread'` only, required: the key of the principals' placement tags. */
  tagSecret?: string;
  /**
   * How long a record lives when its cookie has no `expires` (`'1d'` or milliseconds).
   * connect-redis's `ttl` (seconds) is refused with a hint. Default `'1d'`.
   */
  sessionTtl?: number | string | ((sess: SessionData) => number | string);
  /** Do not lengthen a record's TTL on `touch`. Default false. */
  disableTouch?: boolean;
  /** How long one Redis operation may take before the request gets a 503 (`'2s'` or ms). Default `'2s'`. */
  operationTimeout?: number | string;
  /** How long one connection attempt may take. Default `'2s'`. */
  connectTimeout?: number | string;
  /** Longest pause between reconnection attempts. Default `'2s'`. */
  reconnectMaxDelay?: number | string;
  /** How long an index entry whose session was never saved survives pruning. Default `'1m'`. */
  pendingGrace?: number | string;
  /**
   * Called with every connection error of the client (Redis down, reset connections…).
   * Requests already get 503s and `store_unavailable` audit events. Default: outside
   * production (and `NODE_ENV=test`), the first error of each outage and its end on the
   * console; in production, ignored.
   */
  onError?: (error: Error) => void;
}

export interface RedisSessionStores {
  /** The express-session store to give `sessionGuard({ store })`. */
  store: RedisSessionStore;
  /** The per-principal index to give `sessionGuard({ index })`. */
  index: RedisSessionIndex;
  /** The node-redis client both use. */
  client: FleetRedisClient;
  /**
   * Settles once the first connection is up. Nothing needs to wait for it: until then every
   * operation fails fast and requests get 503s.
   */
  ready: Promise<void>;
  /** Closes the client when it was created here (a client you passed in stays open). */
  close(): Promise<void>;
}

/**
 * Builds a `RedisSessionStore` and a `RedisSessionIndex` over one node-redis client set up to
 * fail closed: while Redis is unreachable every operation rejects at once (no offline queue,
 * so nothing waits and nothing replays later), requests get a 503 from the guard, the client
 * reconnects for ever with a capped backoff, and service resumes by itself when Redis is
 * back. Connection errors go to `onError`, never to an unhandled `'error'` event.
 *
 * @example
 * import express from 'express';
 * import { sessionGuard } from 'fixation-guard';
 * import { createRedisSessionStores } from 'fixation-guard/redis';
 *
 * const redis = createRedisSessionStores({ url: process.env.REDIS_URL, prefix: 'shop:{shop}:' });
 * const app = express();
 * app.use(sessionGuard({ secret: process.env.SESSION_SECRET!, store: redis.store, index: redis.index }));
 * process.on('SIGTERM', () => void redis.close());
 */
export function createRedisSessionStores(options: CreateRedisSessionStoresOptions = {}): RedisSessionStores {
  checkOptionsObject(options, WHO, 'an options object');
  if (options.url !== undefined && options.client !== undefined) {
    throw new Error(`${WHO}: give either \`url\` or \`client\`, not both`);
  }
  if (options.url !== undefined && (typeof options.url !== 'string' || !/^rediss?:\/\//.test(options.url))) {
    throw new TypeError(`${WHO}: \`url\` must be a redis:// or rediss:// URL; got ${JSON.stringify(options.url)}`);
  }
  const { operationTimeoutMs, connectTimeoutMs, maxDelay } = connectionSettings(options, WHO);
  const onError = options.onError ?? (quietEnvironment() ? ignoreError : undefined);

  const owned = options.client === undefined;
  const client = (options.client ??
    createClient({
      url: options.url ?? DEFAULT_REDIS_URL,
      // Offline, a command is rejected at once instead of queued: the request answers 503
      // now, and a stale write cannot replay minutes later when Redis is back.
      disableOfflineQueue: true,
      // No per-command `commandOptions.timeout`: it costs an AbortSignal per command on the
      // hot path, and every store and index operation already has its own deadline
      // (`operationTimeout`), which also covers commands already written.
      socket: {
        connectTimeout: connectTimeoutMs,
        // The fleet must come back by itself once Redis does.
        reconnectStrategy: reconnectForEver(maxDelay),
      },
    })) as FleetRedisClient;

  // Without a listener, node-redis's 'error' event would crash the process on the first outage.
  if (owned || client.listenerCount('error') === 0) {
    // Outside production, an outage is said on the console once (and its end), not ignored.
    const report = onError ?? reportOutages(client, ['ready']);
    client.on('error', function onRedisError(error: Error) {
      report(error);
    });
  }

  const layout = {
    prefix: options.prefix ?? (options.keyLayout === 'spread' ? DEFAULT_SPREAD_PREFIX : DEFAULT_PREFIX),
    ...(options.keyLayout !== undefined && { keyLayout: options.keyLayout }),
    ...(options.tagSecret !== undefined && { tagSecret: options.tagSecret }),
  };
  const { store, index } = storesOver(client, layout, options, operationTimeoutMs);

  const ready = owned ? client.connect().then(noop) : whenReady(client as unknown as Connectable);
  // Closing before the first connection rejects `ready`; nobody has to be listening.
  ready.catch(noop);

  async function close(): Promise<void> {
    if (owned) await closeWithin(client, operationTimeoutMs);
  }

  return { store, index, client, ready, close };
}

/** What both factories read the same way: `onError` checked, old duration names refused, durations in ms. */
function connectionSettings(options: CreateRedisSessionStoresOptions, who: string): { operationTimeoutMs: number; connectTimeoutMs: number; maxDelay: number } {
  if (options.onError !== undefined && typeof options.onError !== 'function') {
    throw new TypeError(`${who}: \`onError\` must be a function; got ${typeof options.onError}`);
  }
  refuseRenamedDurations(options, who, RENAMED_REDIS_DURATIONS);
  return {
    operationTimeoutMs: durationMs(options.operationTimeout, DEFAULT_OPERATION_TIMEOUT_MS, who, 'operationTimeout'),
    connectTimeoutMs: durationMs(options.connectTimeout, DEFAULT_CONNECT_TIMEOUT_MS, who, 'connectTimeout'),
    maxDelay: durationMs(options.reconnectMaxDelay, DEFAULT_RECONNECT_MAX_DELAY_MS, who, 'reconnectMaxDelay'),
  };
}

/** The store and the index over one client, with the same key layout and deadlines. */
function storesOver(
  client: unknown,
  layout: Pick<RedisSessionStoreOptions, 'prefix' | 'keyLayout' | 'tagSecret'>,
  options: CreateRedisSessionStoresOptions,
  operationTimeoutMs: number,
): { store: RedisSessionStore; index: RedisSessionIndex } {
  const pendingGrace = options.pendingGrace !== undefined ? { pendingGrace: options.pendingGrace } : {};
  const store = new RedisSessionStore({
    client,
    ...layout,
    ...(options.sessionTtl !== undefined && { sessionTtl: options.sessionTtl }),
    ...(options.disableTouch !== undefined && { disableTouch: options.disableTouch }),
    operationTimeout: operationTimeoutMs,
    ...pendingGrace,
  });
  const index = new RedisSessionIndex({ client, ...layout, operationTimeout: operationTimeoutMs, ...pendingGrace });
  return { store, index };
}

interface Connectable {
  isReady?: boolean;
  isOpen: boolean;
  once(event: string, listener: () => void): unknown;
}

function whenReady(client: Connectable): Promise<void> {
  if (client.isReady ?? client.isOpen) return Promise.resolve();
  return new Promise((resolve) => client.once(client.isReady === undefined ? 'connect' : 'ready', () => resolve()));
}

/** Never give up reconnecting (node-redis gives up after a socket timeout by default), capped backoff with jitter. */
function reconnectForEver(maxDelay: number): (retries: number) => number {
  return function reconnectForEver(retries: number): number {
    const backoff = Math.min(50 * 2 ** Math.min(retries, 16), maxDelay);
    return Math.round(backoff * (0.8 + Math.random() * 0.4));
  };
}

/** The cluster client `createRedisClusterSessionStores` builds (node-redis `createCluster`). */
export type FleetRedisCluster = ReturnType<typeof createCluster>;

export interface CreateRedisClusterSessionStoresOptions extends Omit<CreateRedisSessionStoresOptions, 'url' | 'client' | 'prefix'> {
  /** `redis://host:port` of some of the cluster's nodes (the rest is discovered). */
  rootUrls: string[];
  /**
   * The key of the principals' placement tags (`spread` layout), the same on every instance:
   * at least 16 characters. The session secret will do: it is used under its own label.
   */
  tagSecret: string;
  /** Key prefix without a hash tag (each key carries its own). Default `'fg:'`. */
  prefix?: string;
  /**
   * `'spread'` (default): sessions spread over the cluster's slots. `'deployment'`: every key
   * in one slot (one shard holds everything; each step stays one script).
   */
  keyLayout?: KeyLayoutKind;
}

export interface RedisClusterSessionStores extends Omit<RedisSessionStores, 'client'> {
  /** The node-redis cluster client both use. */
  client: FleetRedisCluster;
}

/**
 * `createRedisSessionStores` for a Redis Cluster: one node-redis cluster client set up to fail
 * closed the same way (no offline queue, reconnection for ever, errors to `onError`), and a
 * store and index on the `spread` key layout: anonymous sessions spread over every slot, each
 * principal's sessions next to its index, a login moved across slots (see the README's
 * "Redis Cluster" part). While a primary is down, requests whose keys live in its slots get
 * 503s; the rest of the fleet serves on, and its slots serve again once it is back.
 *
 * @example
 * import { createRedisClusterSessionStores } from 'fixation-guard/redis';
 *
 * const redis = createRedisClusterSessionStores({
 *   rootUrls: ['redis://10.0.0.1:6379', 'redis://10.0.0.2:6379', 'redis://10.0.0.3:6379'],
 *   tagSecret: process.env.SESSION_SECRET!,
 * });
 * app.use(sessionGuard({ secret: process.env.SESSION_SECRET!, store: redis.store, index: redis.index }));
 */
export function createRedisClusterSessionStores(options: CreateRedisClusterSessionStoresOptions): RedisClusterSessionStores {
  const who = 'createRedisClusterSessionStores';
  checkOptionsObject(options, who, 'an options object with `rootUrls` and `tagSecret`');
  if (!Array.isArray(options.rootUrls) || options.rootUrls.length === 0 || options.rootUrls.some((url) => typeof url !== 'string' || !/^rediss?:\/\//.test(url))) {
    throw new TypeError(`${who}: \`rootUrls\` must be a non-empty array of redis:// or rediss:// URLs; got ${JSON.stringify(options.rootUrls)}`);
  }
  const { operationTimeoutMs, connectTimeoutMs, maxDelay } = connectionSettings(options, who);
  const keyLayout = options.keyLayout ?? 'spread';
  const prefix = options.prefix ?? (keyLayout === 'spread' ? DEFAULT_SPREAD_PREFIX : DEFAULT_PREFIX);
  const shared = { prefix, keyLayout, tagSecret: options.tagSecret };
  // Validate before connecting anything.
  const probe = { evalSha: noop, eval: noop, masters: [] };
  new RedisSessionStore({ client: probe, ...shared });

  const client = createCluster({
    rootNodes: options.rootUrls.map((url) => ({ url })),
    defaults: {
      // As for one Redis: offline, a command fails now (503) instead of replaying later.
      disableOfflineQueue: true,
      socket: { connectTimeout: connectTimeoutMs, reconnectStrategy: reconnectForEver(maxDelay) },
    },
  });
  // As for one Redis: errors go to `onError`, or outside production to the console (first of
  // each outage). A node's connection errors come as 'node-error', the cluster's own as 'error'.
  const report = options.onError ?? (quietEnvironment() ? ignoreError : reportOutages(client, ['node-ready', 'connect']));
  client.on('error', function onRedisClusterError(error: Error) {
    report(error);
  });
  client.on('node-error', function onRedisClusterNodeError(error: Error) {
    report(error);
  });
  const { store, index } = storesOver(client, shared, options, operationTimeoutMs);
  const ready = client.connect().then(noop);
  ready.catch(noop);

  const close = () => closeWithin(client, operationTimeoutMs);

  return { store, index, client, ready, close };
}

/**
 * Closes a client the factory made. close() waits for pending replies, and a Redis that
 * stopped answering would keep it waiting: after `timeoutMs` the client is destroyed instead.
 */
async function closeWithin(client: { isOpen: boolean; close(): Promise<unknown>; destroy(): void }, timeoutMs: number): Promise<void> {
  if (!client.isOpen) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const gaveUp = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  const outcome = await Promise.race([client.close().then(() => 'closed' as const, () => 'closed' as const), gaveUp]);
  clearTimeout(timer);
  if (outcome === 'timeout' && client.isOpen) client.destroy();
}

function ignoreError(): void {}

/** A connection error's text without credentials a URL in it might carry. */
function describeError(error: Error): string {
  const code = (error as { code?: unknown }).code;
  const text = `${typeof code === 'string' ? `${code}: ` : ''}${error.message}`.replace(/\/\/[^/@\s]*@/g, '//***@');
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** Production and test runs print nothing by default (`onError` is theirs to give). */
function quietEnvironment(): boolean {
  const env = process.env.NODE_ENV;
  return env === 'production' || env === 'test';
}

/**
 * The default `onError` outside production: the first error of an outage on the console,
 * then silence until the client (or, on a cluster, a node) is ready again (it retries every
 * few seconds, for ever).
 */
function reportOutages(client: { on(event: string, listener: () => void): unknown }, readyEvents: readonly string[]): (error: Error) => void {
  let down = false;
  for (const event of readyEvents) {
    client.on(event, function redisOutageOver() {
      if (!down) return;
      down = false;
      console.error('fixation-guard/redis: Redis is reachable again; sessions are served.');
    });
  }
  return function reportRedisOutage(error: Error) {
    if (down) return;
    down = true;
    console.error(
      `fixation-guard/redis: Redis connection error (${describeError(error)}). Requests answer 503 SESSION_STORE_UNAVAILABLE until it is back; ` +
        'reconnecting. Further errors of this outage are not printed; pass `onError` to handle them yourself.',
    );
  };
}

function noop(): void {}
