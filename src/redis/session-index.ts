import { makeTombstone, type AdmitOptions, type AdmitResult, type EndReason, type SessionIndex, type SessionIndexEntry, type SessionLimit } from '../store/contracts.js';
import { SessionStoreUnavailableError } from '../errors/index.js';
import { RedisSessionStore } from './store.js';
import { withDeadline } from './errors.js';
import { DEFAULT_PREFIX, KeyLayout, validatePrefix } from './keys.js';
import { DEFAULT_OPERATION_TIMEOUT_MS, DEFAULT_PENDING_GRACE_MS, RENAMED_REDIS_DURATIONS, checkClient, checkOptionsObject, durationMs } from './options.js';
import { refuseRenamedDurations } from '../clock/index.js';
import {
  INDEX_ADMIT,
  INDEX_END_ALL,
  INDEX_LIST,
  INDEX_MEMBERS,
  INDEX_REMOVE,
  INDEX_REMOVE_ALL,
  INDEX_RENAME,
  INDEX_TOUCH,
  type RedisScriptingClient,
} from './scripts.js';

const WHO = 'RedisSessionIndex';
/** How often `endAll` re-reads the members when a login or rotation changed them meanwhile. */
const END_ALL_ATTEMPTS = 8;

export interface RedisSessionIndexOptions {
  /** A connected node-redis client (`createClient()` or `createCluster()`). */
  client: unknown;
  /** The same prefix as the `RedisSessionStore`'s: pruning reads its session keys. Default `'fg:{fg}:'`. */
  prefix?: string;
  /** How long one operation may take before it fails with a 503 (`'2s'` or milliseconds). Default `'2s'`. */
  operationTimeout?: number | string;
  /**
   * How long an entry whose session record was never written is kept by pruning (a login in
   * flight on another instance), `'1m'` or milliseconds. Default `'1m'`.
   */
  pendingGrace?: number | string;
}

/**
 * The per-principal session index for a fleet: a sorted set of the principal's session ids
 * (score = createdAt) and a hash of their created/last-seen times, both under the
 * deployment's hash tag, both expiring with the longest-lived session they list. `admit`
 * enforces `maxSessionsPerUser` in one script, so two instances logging the same user in at
 * once cannot both slip under the limit. Entries whose session expired or was tombstoned are
 * pruned by `admit` and `list`, so the index never grows without bound.
 *
 * @example
 * import { RedisSessionIndex, RedisSessionStore } from 'fixation-guard/redis';
 *
 * const store = new RedisSessionStore({ client, prefix: 'myapp:{myapp}:' });
 * const index = new RedisSessionIndex({ client, prefix: 'myapp:{myapp}:' });
 * app.use(sessionGuard({ secret, store, index, maxSessionsPerUser: 5 }));
 * const devices = await index.list('alice'); // oldest first, with createdAt / lastSeenAt
 */
export class RedisSessionIndex implements SessionIndex {
  readonly keys: KeyLayout;
  readonly operationTimeoutMs: number;
  readonly pendingGraceMs: number;
  readonly #scripting: RedisScriptingClient;

  constructor(options: RedisSessionIndexOptions) {
    checkOptionsObject(options, WHO, 'an options object with a `client`');
    this.#scripting = checkClient(options.client, WHO);
    this.keys = new KeyLayout(validatePrefix(options.prefix ?? DEFAULT_PREFIX, WHO));
    refuseRenamedDurations(options, WHO, RENAMED_REDIS_DURATIONS);
    this.operationTimeoutMs = durationMs(options.operationTimeout, DEFAULT_OPERATION_TIMEOUT_MS, WHO, 'operationTimeout');
    this.pendingGraceMs = durationMs(options.pendingGrace, DEFAULT_PENDING_GRACE_MS, WHO, 'pendingGrace');
  }

  /**
   * Reserves (`phase: 'reserve'`) or confirms (`'confirm'`) `entry` for `principal`; see
   * `AdmitOptions`. Without options, adds and confirms in one step. Under `rejectLogin` a reservation at the limit admits
   * nothing; under `evictOldest` a confirmation names the oldest live entries beyond the limit.
   */
  async admit(principal: string, entry: SessionIndexEntry, limit?: SessionLimit, options?: AdmitOptions): Promise<AdmitResult> {
    checkPrincipal(principal, 'admit');
    checkId(entry?.sessionId, 'admit', 'entry.sessionId');
    const max = checkLimit(limit);
    return await this.#deadline('admit', async () => {
      const members = await this.#members(principal);
      const keys = [
        this.keys.index(principal),
        this.keys.meta(principal),
        this.keys.session(entry.sessionId),
        ...members.map((id) => this.keys.session(id)),
      ];
      const args = [
        entry.sessionId,
        String(Math.floor(entry.createdAt)),
        String(Math.floor(entry.lastSeenAt)),
        JSON.stringify(entry.meta ?? {}),
        String(max),
        limit?.onLimit ?? 'evictOldest',
        String(Math.ceil(this.pendingGraceMs)),
        options?.phase ?? 'admit',
        options?.replacing ?? '',
        ...members,
      ];
      const reply = (await INDEX_ADMIT.run(this.#scripting, keys, args)) as unknown[];
      const [admitted, ...evicted] = reply;
      return { admitted: Number(admitted) === 1, evicted: evicted.map(String) };
    });
  }

  /**
   * Ends every session of `principal` in one script: each listed session key becomes a
   * tombstone and the index is deleted, so no rotation can slip between the two (one that
   * lands after it finds its source dead; one that landed before moved its entry into the
   * list). Resolves to the ids ended.
   */
  async endAll(principal: string, reason: EndReason, now: number, ttlMs: number): Promise<string[]> {
    checkPrincipal(principal, 'endAll');
    const ttl = Math.max(1, Math.ceil(ttlMs));
    const tombstone = JSON.stringify(makeTombstone(reason, now, ttl));
    return await this.#deadline('endAll', async () => {
      // The members are read first (a script may only touch the keys it is given); the script
      // refuses when they changed meanwhile, and the read is repeated.
      for (let attempt = 0; attempt < END_ALL_ATTEMPTS; attempt++) {
        const members = await this.#members(principal);
        const keys = [this.keys.index(principal), this.keys.meta(principal), ...members.map((id) => this.keys.session(id))];
        const reply = ((await INDEX_END_ALL.run(this.#scripting, keys, [tombstone, String(ttl), ...members])) as unknown[]).map(String);
        if (reply[0] === 'ok') return reply.slice(1);
      }
      throw new SessionStoreUnavailableError('The session index kept changing; try again.');
    });
  }

  /** `endAll` writes tombstones under this index's prefix: only a store with the same prefix can use it. */
  ownsSessionsOf(store: unknown): boolean {
    return store instanceof RedisSessionStore && store.keys.sessionPrefix === this.keys.sessionPrefix;
  }

  async remove(principal: string, sessionId: string): Promise<void> {
    checkPrincipal(principal, 'remove');
    checkId(sessionId, 'remove', 'sessionId');
    await this.#deadline('remove', async () => {
      await INDEX_REMOVE.run(this.#scripting, [this.keys.index(principal), this.keys.meta(principal)], [sessionId]);
    });
  }

  /** Moves an entry to `newId` keeping createdAt; an entry removed meanwhile stays removed. */
  async rename(principal: string, oldId: string, newId: string, lastSeenAt: number): Promise<void> {
    checkPrincipal(principal, 'rename');
    checkId(oldId, 'rename', 'oldId');
    checkId(newId, 'rename', 'newId');
    await this.#deadline('rename', async () => {
      const keys = [this.keys.index(principal), this.keys.meta(principal), this.keys.session(newId)];
      await INDEX_RENAME.run(this.#scripting, keys, [oldId, newId, String(Math.floor(lastSeenAt))]);
    });
  }

  /** Records activity; never re-adds an entry that was removed or evicted. */
  async touch(principal: string, sessionId: string, lastSeenAt: number): Promise<void> {
    checkPrincipal(principal, 'touch');
    checkId(sessionId, 'touch', 'sessionId');
    await this.#deadline('touch', async () => {
      const keys = [this.keys.index(principal), this.keys.meta(principal), this.keys.session(sessionId)];
      await INDEX_TOUCH.run(this.#scripting, keys, [sessionId, String(Math.floor(lastSeenAt))]);
    });
  }

  /** The principal's live sessions, oldest first; expired and tombstoned ones are pruned. */
  async list(principal: string): Promise<SessionIndexEntry[]> {
    checkPrincipal(principal, 'list');
    return await this.#deadline('list', async () => {
      const members = await this.#members(principal);
      if (members.length === 0) return [];
      const keys = [this.keys.index(principal), this.keys.meta(principal), ...members.map((id) => this.keys.session(id))];
      const reply = (await INDEX_LIST.run(this.#scripting, keys, [String(Math.ceil(this.pendingGraceMs)), ...members])) as unknown[];
      const entries: ParsedEntry[] = [];
      for (let i = 0; i + 1 < reply.length; i += 2) {
        const parsed = parseEntry(String(reply[i]), String(reply[i + 1]));
        if (parsed) entries.push(parsed);
      }
      entries.sort(oldestFirst);
      return entries.map(toPublicEntry);
    });
  }

  /** Removes and returns every id of `principal` (the caller tombstones them). */
  async removeAll(principal: string): Promise<string[]> {
    checkPrincipal(principal, 'removeAll');
    return await this.#deadline('removeAll', async () => {
      const reply = (await INDEX_REMOVE_ALL.run(this.#scripting, [this.keys.index(principal), this.keys.meta(principal)], [])) as unknown[];
      return reply.map(String);
    });
  }

  async #members(principal: string): Promise<string[]> {
    const reply = (await INDEX_MEMBERS.run(this.#scripting, [this.keys.index(principal)], [])) as unknown[];
    return reply.map(String);
  }

  #deadline<T>(operation: string, run: () => Promise<T>): Promise<T> {
    return withDeadline(WHO, operation, this.operationTimeoutMs, run());
  }
}

interface ParsedEntry extends SessionIndexEntry {
  admittedAtMicros: bigint;
}

const ENTRY_RE = /^(-?[\d.]+):(-?[\d.]+):(\d+):[plr]:(.*)$/s;

function parseEntry(sessionId: string, value: string): ParsedEntry | undefined {
  const match = ENTRY_RE.exec(value);
  if (!match) return undefined;
  const entry: ParsedEntry = {
    sessionId,
    createdAt: Number(match[1]),
    lastSeenAt: Number(match[2]),
    admittedAtMicros: BigInt(match[3] ?? '0'),
  };
  const meta = parseMeta(match[4] ?? '');
  if (meta) entry.meta = meta;
  return entry;
}

function parseMeta(json: string): Record<string, string> | undefined {
  if (json === '' || json === '{}') return undefined;
  try {
    const value: unknown = JSON.parse(json);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    const meta: Record<string, string> = {};
    for (const [key, item] of Object.entries(value)) if (typeof item === 'string') meta[key] = item;
    return meta;
  } catch {
    return undefined;
  }
}

function oldestFirst(a: ParsedEntry, b: ParsedEntry): number {
  if (a.createdAt !== b.createdAt) return a.createdAt - b.createdAt;
  if (a.admittedAtMicros !== b.admittedAtMicros) return a.admittedAtMicros < b.admittedAtMicros ? -1 : 1;
  return a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : 0;
}

function toPublicEntry({ admittedAtMicros: _admitted, ...entry }: ParsedEntry): SessionIndexEntry {
  return entry;
}

function checkPrincipal(principal: unknown, method: string): void {
  if (typeof principal !== 'string' || principal === '') {
    throw new TypeError(`${WHO}#${method}: \`principal\` must be a non-empty string; got ${JSON.stringify(principal)}`);
  }
}

function checkId(id: unknown, method: string, name: string): void {
  if (typeof id !== 'string' || id === '') {
    throw new TypeError(`${WHO}#${method}: \`${name}\` must be a non-empty string; got ${typeof id}`);
  }
}

function checkLimit(limit: SessionLimit | undefined): number {
  if (limit === undefined) return 0;
  if (!Number.isInteger(limit.max) || limit.max < 1) {
    throw new RangeError(`${WHO}#admit: \`limit.max\` must be a positive integer; got ${String(limit.max)}`);
  }
  if (limit.onLimit !== 'evictOldest' && limit.onLimit !== 'rejectLogin') {
    throw new TypeError(
      `${WHO}#admit: \`limit.onLimit\` must be 'evictOldest' or 'rejectLogin'; got ${JSON.stringify(limit.onLimit)}`,
    );
  }
  return limit.max;
}
