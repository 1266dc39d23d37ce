import type {
  AdmitOptions,
  AdmitResult,
  InProcessLoginIndex,
  SessionIndexEntry,
  SessionLimit,
} from '../store/contracts.js';

/**
 * An entry as held: one shape for every entry (a class) and four fields. Times are offsets from
 * the index's epoch (its first admission): V8 keeps a small integer inside the object, where a
 * millisecond timestamp (beyond 2^31) is a separate 16-byte number — two per entry, 3 MB at
 * 100,000 sessions. Offsets stay that small for about 24 days after the epoch; later ones are
 * held as numbers, exactly, as before.
 */
class Held {
  sessionId: string;
  /** createdAt − epoch. */
  created: number;
  /** lastSeenAt − epoch. */
  lastSeen: number;
  /** Order of admission (breaks createdAt ties) × 2, + 1 while a login reserved it and has not written its record. */
  order: number;

  constructor(sessionId: string, created: number, lastSeen: number, order: number) {
    this.sessionId = sessionId;
    this.created = created;
    this.lastSeen = lastSeen;
    this.order = order;
  }
}

/** An entry with `meta` (a login that passed it): the others do without the field. */
class HeldWithMeta extends Held {
  meta: Record<string, string>;

  constructor(sessionId: string, created: number, lastSeen: number, order: number, meta: Record<string, string>) {
    super(sessionId, created, lastSeen, order);
    this.meta = meta;
  }
}

function held(sessionId: string, created: number, lastSeen: number, order: number, meta: Record<string, string> | undefined): Held {
  return meta === undefined ? new Held(sessionId, created, lastSeen, order) : new HeldWithMeta(sessionId, created, lastSeen, order, meta);
}

const metaOf = (entry: Held) => (entry instanceof HeldWithMeta ? entry.meta : undefined);
const isPending = (entry: Held) => entry.order % 2 === 1;

function oldestFirst(a: Held, b: Held): number {
  return a.created - b.created || a.order - b.order;
}

/**
 * One principal's entries. Most principals have one session or a few: a lone entry is held as
 * is and a few in an array (a Map per principal cost ~400 bytes per session at 100k users); a
 * principal with many sessions gets a Map, so that no operation scans thousands of entries.
 */
type Entries = Held | Held[] | Map<string, Held>;
const MAX_ARRAY_ENTRIES = 16;

function find(entries: Entries, sessionId: string): Held | undefined {
  if (entries instanceof Held) return entries.sessionId === sessionId ? entries : undefined;
  if (Array.isArray(entries)) return entries.find((held) => held.sessionId === sessionId);
  return entries.get(sessionId);
}

function all(entries: Entries): Held[] {
  if (entries instanceof Held) return [entries];
  return Array.isArray(entries) ? [...entries] : [...entries.values()];
}

function withEntry(entries: Entries | undefined, held: Held): Entries {
  if (entries === undefined) return held;
  if (entries instanceof Map) return entries.set(held.sessionId, held);
  const list = entries instanceof Held ? [entries] : entries;
  const at = list.findIndex((h) => h.sessionId === held.sessionId);
  if (at !== -1) list[at] = held;
  else list.push(held);
  if (list.length <= MAX_ARRAY_ENTRIES) return list;
  return new Map(list.map((h) => [h.sessionId, h]));
}

/** The entries without `sessionId`, or undefined when none is left. */
function withoutEntry(entries: Entries, sessionId: string): Entries | undefined {
  if (entries instanceof Held) return entries.sessionId === sessionId ? undefined : entries;
  if (entries instanceof Map) {
    entries.delete(sessionId);
    return entries.size === 0 ? undefined : entries;
  }
  const list = entries.filter((held) => held.sessionId !== sessionId);
  return list.length === 0 ? undefined : list.length === 1 ? list[0] : list;
}

/** Whether a new entry would go beyond `rejectLogin`'s limit (`replacing` does not count). */
function refuses(sessions: Entries | undefined, limit: SessionLimit | undefined, replacing: string | undefined): boolean {
  if (limit?.onLimit !== 'rejectLogin') return false;
  let count = 0;
  for (const other of sessions === undefined ? [] : all(sessions)) if (other.sessionId !== replacing) count++;
  return count >= limit.max;
}

/** Under `evictOldest`, the oldest live entries beyond the limit once `sessionId` is live (never it, never a reserved one). */
function victims(sessions: Entries, sessionId: string, limit: SessionLimit | undefined): string[] {
  if (limit?.onLimit !== 'evictOldest') return [];
  const live = all(sessions)
    .filter((other) => !isPending(other) && other.sessionId !== sessionId)
    .sort(oldestFirst);
  const excess = live.length + 1 - limit.max;
  return live.slice(0, Math.max(0, excess)).map((old) => old.sessionId);
}

/** `entry` under `sessionId`: its creation, order and meta kept, last seen at the later of the two. */
function movedTo(entry: Held, sessionId: string, lastSeen: number): Held {
  return held(sessionId, entry.created, lastSeen > entry.lastSeen ? lastSeen : entry.lastSeen, entry.order, metaOf(entry));
}

function ids(entries: Entries): string[] {
  return all(entries).map((held) => held.sessionId);
}

/**
 * A per-process session index: principal → sessions. Right for one instance on MemoryStore;
 * a fleet needs a shared one (`RedisSessionIndex` from `fixation-guard/redis`). The guard's
 * default MemoryStore keeps one of its own and logs in at once with it.
 *
 * @example
 * app.use(sessionGuard({ secret, index: new MemorySessionIndex(), maxSessionsPerUser: 3 }));
 */
export class MemorySessionIndex implements InProcessLoginIndex {
  readonly #byPrincipal = new Map<string, Entries>();
  #seq = 0;
  /** What held times are offsets from: the first time admitted (0 once a time was not an integer). */
  #epoch: number | undefined;

  /** `time` as held. */
  #offset(time: number): number {
    const epoch = (this.#epoch ??= Number.isSafeInteger(time) ? time : 0);
    const offset = time - epoch;
    // `| 0` makes it a small integer: the difference of two large numbers is a number even when
    // it would fit, and one such store makes V8 box the field in every entry.
    if ((offset | 0) === offset) return offset | 0;
    if (offset + epoch === time) return offset;
    // A time that would not come back exactly (a fraction, with a clock such as
    // performance.now()): from now on every time is held as it is.
    for (const entries of this.#byPrincipal.values()) {
      for (const entry of all(entries)) {
        entry.created += epoch;
        entry.lastSeen += epoch;
      }
    }
    this.#epoch = 0;
    return time;
  }

  #entry(entry: Held): SessionIndexEntry {
    const epoch = this.#epoch ?? 0;
    const out: SessionIndexEntry = { sessionId: entry.sessionId, createdAt: entry.created + epoch, lastSeenAt: entry.lastSeen + epoch };
    const meta = metaOf(entry);
    if (meta !== undefined) out.meta = meta;
    return out;
  }

  async admit(
    principal: string,
    entry: SessionIndexEntry,
    limit?: SessionLimit,
    options?: AdmitOptions,
  ): Promise<AdmitResult> {
    // Without options: reserve and confirm in one step.
    if (!options) {
      const reserved = await this.admit(principal, entry, limit, { phase: 'reserve' });
      return reserved.admitted
        ? await this.admit(principal, entry, limit, { phase: 'confirm' })
        : reserved;
    }
    const sessions = this.#byPrincipal.get(principal);
    const evicted: string[] = [];
    const existing = sessions === undefined ? undefined : find(sessions, entry.sessionId);
    if (options.phase === 'reserve') {
      if (!existing && refuses(sessions, limit, options.replacing)) return { admitted: false, evicted };
      const [created, lastSeen] = this.#times(entry);
      const order = existing ? existing.order - (existing.order % 2) + 1 : this.#seq++ * 2 + 1;
      this.#byPrincipal.set(principal, withEntry(sessions, held(entry.sessionId, created, lastSeen, order, entry.meta)));
      return { admitted: true, evicted };
    }
    // Confirming an entry that is no longer listed: the login was ended (evicted, revoked)
    // while in flight. It is not brought back.
    if (!sessions || !existing) return { admitted: false, evicted };
    existing.order -= existing.order % 2;
    const lastSeen = this.#offset(entry.lastSeenAt);
    if (lastSeen > existing.lastSeen) existing.lastSeen = lastSeen;
    // Victims stay listed: the caller tombstones each, then removes it.
    return { admitted: true, evicted: victims(sessions, entry.sessionId, limit) };
  }

  refusesLogin(principal: string, sessionId: string, limit: SessionLimit | undefined, replacing: string | undefined): boolean {
    const sessions = this.#byPrincipal.get(principal);
    return (sessions === undefined || find(sessions, sessionId) === undefined) && refuses(sessions, limit, replacing);
  }

  enterLogin(principal: string, entry: SessionIndexEntry, limit: SessionLimit | undefined, replacing: string | undefined): string[] {
    let sessions = this.#byPrincipal.get(principal);
    const [created, lastSeen] = this.#times(entry);
    const moving = sessions === undefined || replacing === undefined ? undefined : find(sessions, replacing);
    let entered: Held;
    if (moving === undefined) entered = held(entry.sessionId, created, lastSeen, this.#seq++ * 2, entry.meta);
    else {
      // A re-login on the same session: the entry moves, as a rotation moves it, and is live.
      entered = movedTo(moving, entry.sessionId, lastSeen);
      entered.order -= entered.order % 2;
      sessions = withoutEntry(sessions as Entries, moving.sessionId);
    }
    sessions = withEntry(sessions, entered);
    this.#byPrincipal.set(principal, sessions);
    return victims(sessions, entry.sessionId, limit);
  }

  removeNow(principal: string, sessionId: string): void {
    const sessions = this.#byPrincipal.get(principal);
    if (!sessions) return;
    const left = withoutEntry(sessions, sessionId);
    if (left === undefined) this.#byPrincipal.delete(principal);
    else if (left !== sessions) this.#byPrincipal.set(principal, left);
  }

  pruneNow(principal: string, gone: (sessionId: string, reserved: boolean) => boolean): void {
    const sessions = this.#byPrincipal.get(principal);
    if (sessions === undefined) return;
    for (const entry of all(sessions)) if (gone(entry.sessionId, isPending(entry))) this.removeNow(principal, entry.sessionId);
  }

  /** Whether `store` keeps this index (its logins are one step with it). */
  ownsSessionsOf(store: unknown): boolean {
    return (store as { index?: unknown } | null)?.index === this;
  }

  /** An entry's creation and last-seen times as held. */
  #times(entry: SessionIndexEntry): [created: number, lastSeen: number] {
    this.#offset(entry.createdAt);
    const lastSeen = this.#offset(entry.lastSeenAt);
    // Again, once the epoch is settled: the second may have moved it.
    return [this.#offset(entry.createdAt), lastSeen];
  }

  async remove(principal: string, sessionId: string): Promise<void> {
    this.removeNow(principal, sessionId);
  }

  async rename(principal: string, oldId: string, newId: string, lastSeenAt: number): Promise<void> {
    this.renameNow(principal, oldId, newId, lastSeenAt);
  }

  renameNow(principal: string, oldId: string, newId: string, lastSeenAt: number): void {
    const sessions = this.#byPrincipal.get(principal);
    const entry = sessions === undefined ? undefined : find(sessions, oldId);
    if (!sessions || !entry) return;
    const lastSeen = this.#offset(lastSeenAt);
    this.#byPrincipal.set(principal, withEntry(withoutEntry(sessions, oldId), movedTo(entry, newId, lastSeen)));
  }

  async touch(principal: string, sessionId: string, lastSeenAt: number): Promise<void> {
    const sessions = this.#byPrincipal.get(principal);
    const entry = sessions === undefined ? undefined : find(sessions, sessionId);
    if (!entry) return;
    const lastSeen = this.#offset(lastSeenAt);
    if (lastSeen > entry.lastSeen) entry.lastSeen = lastSeen;
  }

  async list(principal: string): Promise<SessionIndexEntry[]> {
    const sessions = this.#byPrincipal.get(principal);
    if (!sessions) return [];
    return all(sessions).sort(oldestFirst).map((entry) => this.#entry(entry));
  }

  /** Removes and returns every id of `principal`. */
  async removeAll(principal: string): Promise<string[]> {
    const sessions = this.#byPrincipal.get(principal);
    this.#byPrincipal.delete(principal);
    return sessions ? ids(sessions) : [];
  }
}
