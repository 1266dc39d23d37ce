/**
 * The system under test of one model run: an app from `buildApp` with the guard configured as
 * the model expects, over a store and an index wrapped by the `Interleaver`, served by the
 * long-lived `TestServer`, plus the devices' cookie jars. The store's records are read
 * directly from the store the test created (never through the guard): its raw map for the
 * MemoryStore and the plain store, its keys for Redis.
 */
import session, { type Store } from 'express-session';
import type fc from 'fast-check';
import {
  ManualClock,
  MemorySessionIndex,
  isTombstone,
  type SessionIndex,
} from '../../../src/index.js';
import { createRedisSessionStores, type RedisSessionStores } from '../../../src/redis/index.js';
import { buildApp, type TestApp } from '../../helpers.js';
import { connectedStores, uniquePrefix } from '../../redis/support.js';
import { PlainStore } from '../../support/plain-store.js';
import { AtomicMemoryStore } from '../../../src/store/memory.js';
import { type Reply, type TestServer, idOf } from './client.js';
import { Interleaver } from './interleave.js';

export const PRINCIPALS = ['alice', 'bob'] as const;
export type Principal = (typeof PRINCIPALS)[number];
export const DEVICE_COUNT = 4;
export const MAX_SESSIONS = 3;
export const ROTATE_EVERY_MS = 5 * 60_000;
export const IDLE_TIMEOUT_MS = 30 * 60_000;
export const ABSOLUTE_TIMEOUT_MS = 4 * 3_600_000;

export type StoredRecord = Record<string, any>;

/** What one run needs of a store: a fresh store and index, and raw reads of its records. */
export interface RunStores {
  store: Store;
  index: SessionIndex;
  /** Every record the store holds (tombstones included), parsed, by id. */
  records(): Promise<Map<string, StoredRecord>>;
  record(id: string): Promise<StoredRecord | undefined>;
  dispose(): Promise<void>;
}

export interface StoreBackend {
  readonly name: string;
  fresh(): Promise<RunStores>;
  close(): Promise<void>;
}

function unexpired(record: StoredRecord | undefined): StoredRecord | undefined {
  const expires = record?.cookie?.expires;
  if (record && expires && new Date(expires).getTime() <= Date.now()) return undefined;
  return record;
}

export const memoryBackend: StoreBackend = memoryStoreBackend(
  'memory',
  () => new session.MemoryStore(),
);

/**
 * The store a guard makes when it is given none: the MemoryStore with the atomic extensions,
 * keeping its own index (a login is one step of the store).
 */
export const atomicMemoryBackend: StoreBackend = memoryStoreBackend('atomic-memory', (index) => new AtomicMemoryStore({ index }));

function memoryStoreBackend(name: string, create: (index: MemorySessionIndex) => session.MemoryStore): StoreBackend {
  return {
    name,
    async fresh() {
      const index = new MemorySessionIndex();
      const store = create(index);
      const raw = (): Record<string, string> =>
        (store as unknown as { sessions: Record<string, string> }).sessions;
      const parse = (json: string | undefined) =>
        unexpired(json === undefined ? undefined : (JSON.parse(json) as StoredRecord));
      return {
        store,
        index,
        async records() {
          const out = new Map<string, StoredRecord>();
          for (const [id, json] of Object.entries(raw())) {
            const record = parse(json);
            if (record) out.set(id, record);
          }
          return out;
        },
        async record(id) {
          return parse(raw()[id]);
        },
        async dispose() {},
      };
    },
    async close() {},
  };
}

export const plainBackend: StoreBackend = {
  name: 'plain',
  async fresh() {
    const store = new PlainStore();
    return {
      store,
      index: new MemorySessionIndex(),
      async records() {
        return new Map(Object.entries(store.records()));
      },
      async record(id) {
        return store.record(id);
      },
      async dispose() {},
    };
  },
  async close() {},
};

/** Real Redis: one client for the whole test, a fresh key prefix (its own hash tag) per run. */
export function redisBackend(): StoreBackend {
  let base: RedisSessionStores | undefined;
  let runs = 0;
  return {
    name: 'redis',
    async fresh() {
      base ??= await connectedStores(uniquePrefix('model-base'));
      const client = base.client;
      const prefix = uniquePrefix(`model-${++runs}`);
      const stores = createRedisSessionStores({ client, prefix });
      const sessionKey = (id: string) => stores.store.keys.session(id);
      const parse = (json: string | null | undefined) =>
        unexpired(json ? (JSON.parse(json) as StoredRecord) : undefined);
      return {
        store: stores.store,
        index: stores.index,
        async records() {
          const sessionPrefix = stores.store.keys.sessionPrefix;
          const keys = await client.keys(`${sessionPrefix}*`);
          const out = new Map<string, StoredRecord>();
          if (keys.length === 0) return out;
          const values = await client.mGet(keys);
          keys.forEach((key, i) => {
            const record = parse(values[i]);
            if (record) out.set(key.slice(sessionPrefix.length), record);
          });
          return out;
        },
        async record(id) {
          return parse(await client.get(sessionKey(id)));
        },
        async dispose() {
          const keys = await client.keys(`${prefix}*`);
          if (keys.length > 0) await client.del(keys);
        },
      };
    },
    async close() {
      await base?.close();
    },
  };
}

/** The principal a raw record is authenticated as, when it is a live session. */
export function liveOwner(record: StoredRecord | undefined): string | undefined {
  if (!record || isTombstone(record)) return undefined;
  const principal = record.fixationGuard?.principal;
  return typeof principal === 'string' && principal !== '' ? principal : undefined;
}

export function isLive(record: StoredRecord | undefined): boolean {
  return record !== undefined && !isTombstone(record);
}

export interface Device {
  readonly name: string;
  /** The `__Host-sid=…` pair the browser holds. */
  cookie: string | undefined;
}

export class RealSystem {
  readonly interleaver = new Interleaver();
  /** The run's scheduler: concurrent commands release their store calls through it. */
  scheduler: fc.Scheduler | undefined;
  readonly clock: ManualClock;
  readonly built: TestApp;
  readonly stores: RunStores;
  readonly devices: Device[];

  private constructor(stores: RunStores, server: TestServer) {
    this.stores = stores;
    this.clock = new ManualClock();
    const store = this.interleaver.wrap(stores.store, 'store');
    const index = this.interleaver.wrap(stores.index, 'index');
    this.built = buildApp({
      store,
      index,
      clock: this.clock,
      maxSessionsPerUser: MAX_SESSIONS,
      onSessionLimit: 'evictOldest',
      rotateEvery: ROTATE_EVERY_MS,
      idleTimeout: IDLE_TIMEOUT_MS,
      absoluteTimeout: ABSOLUTE_TIMEOUT_MS,
    });
    server.use(this.built.app);
    this.server = server;
    this.devices = Array.from({ length: DEVICE_COUNT }, (_, i) => ({
      name: `d${i}`,
      cookie: undefined,
    }));
  }

  readonly server: TestServer;

  static async create(backend: StoreBackend, server: TestServer): Promise<RealSystem> {
    return new RealSystem(await backend.fresh(), server);
  }

  get guard(): TestApp['guard'] {
    return this.built.guard;
  }

  idOf(device: number): string | undefined {
    const cookie = this.devices[device]?.cookie;
    return cookie ? idOf(cookie) : undefined;
  }

  /** A request from `device` with its cookie; the jar takes what the response sets or clears. */
  async send(device: number, method: string, path: string, body?: unknown): Promise<Reply> {
    const jar = this.devices[device] as Device;
    const reply = await this.server.request(method, path, jar.cookie, body);
    if (reply.setCookie) jar.cookie = reply.setCookie;
    else if (reply.cleared) jar.cookie = undefined;
    return reply;
  }

  /** A request from a fresh client (not one of the devices) with an explicit cookie. */
  sendAs(cookie: string | undefined, method: string, path: string, body?: unknown): Promise<Reply> {
    return this.server.request(method, path, cookie, body);
  }

  async dispose(): Promise<void> {
    this.interleaver.disarm();
    await this.stores.dispose();
  }
}

export const STORE_BACKENDS = { memory: memoryBackend, plain: plainBackend } as const;
export { idOf };
