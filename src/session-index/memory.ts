import type {
  AdmitOptions,
  AdmitResult,
  SessionIndex,
  SessionIndexEntry,
  SessionLimit,
} from '../store/contracts.js';

/** An entry as held: one shape for every entry (a class), with the index's own two fields. */
class Held implements SessionIndexEntry {
  sessionId: string;
  createdAt: number;
  lastSeenAt: number;
  /** Reserved by a login that has not written its record yet. */
  pending: boolean;
  /** Order of admission, to break createdAt ties. */
  seq: number;
  meta: Record<string, string> | undefined;

  constructor(entry: SessionIndexEntry, pending: boolean, seq: number) {
    this.sessionId = entry.sessionId;
    this.createdAt = entry.createdAt;
    this.lastSeenAt = entry.lastSeenAt;
    this.pending = pending;
    this.seq = seq;
    this.meta = entry.meta;
  }
}

function oldestFirst(a: Held, b: Held): number {
  return a.createdAt - b.createdAt || a.seq - b.seq;
}

function publicEntry(held: Held): SessionIndexEntry {
  const entry: SessionIndexEntry = {
    sessionId: held.sessionId,
    createdAt: held.createdAt,
    lastSeenAt: held.lastSeenAt,
  };
  if (held.meta !== undefined) entry.meta = held.meta;
  return entry;
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

function ids(entries: Entries): string[] {
  return all(entries).map((held) => held.sessionId);
}

/**
 * A per-process session index: principal → sessions. Right for one instance on MemoryStore;
 * a fleet needs a shared one (`RedisSessionIndex` from `fixation-guard/redis`).
 *
 * @example
 * app.use(sessionGuard({ secret, index: new MemorySessionIndex(), maxSessionsPerUser: 3 }));
 */
export class MemorySessionIndex implements SessionIndex {
  readonly #byPrincipal = new Map<string, Entries>();
  #seq = 0;

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
      if (limit?.onLimit === 'rejectLogin' && !existing) {
        let count = 0;
        for (const held of sessions === undefined ? [] : all(sessions))
          if (held.sessionId !== options.replacing) count++;
        if (count >= limit.max) return { admitted: false, evicted };
      }
      this.#byPrincipal.set(
        principal,
        withEntry(sessions, new Held(entry, true, existing?.seq ?? this.#seq++)),
      );
      return { admitted: true, evicted };
    }
    // Confirming an entry that is no longer listed: the login was ended (evicted, revoked)
    // while in flight. It is not brought back.
    if (!sessions || !existing) return { admitted: false, evicted };
    existing.pending = false;
    existing.lastSeenAt = Math.max(entry.lastSeenAt, existing.lastSeenAt);
    if (limit?.onLimit === 'evictOldest') {
      // Victims stay listed: the caller tombstones each, then removes it.
      const live = all(sessions)
        .filter((held) => !held.pending && held.sessionId !== entry.sessionId)
        .sort(oldestFirst);
      const excess = live.length + 1 - limit.max;
      for (const old of live.slice(0, Math.max(0, excess))) evicted.push(old.sessionId);
    }
    return { admitted: true, evicted };
  }

  async remove(principal: string, sessionId: string): Promise<void> {
    const sessions = this.#byPrincipal.get(principal);
    if (!sessions) return;
    const left = withoutEntry(sessions, sessionId);
    if (left === undefined) this.#byPrincipal.delete(principal);
    else if (left !== sessions) this.#byPrincipal.set(principal, left);
  }

  async rename(principal: string, oldId: string, newId: string, lastSeenAt: number): Promise<void> {
    const sessions = this.#byPrincipal.get(principal);
    const entry = sessions === undefined ? undefined : find(sessions, oldId);
    if (!sessions || !entry) return;
    const moved = new Held(
      {
        ...publicEntry(entry),
        sessionId: newId,
        lastSeenAt: Math.max(lastSeenAt, entry.lastSeenAt),
      },
      entry.pending,
      entry.seq,
    );
    this.#byPrincipal.set(principal, withEntry(withoutEntry(sessions, oldId), moved));
  }

  async touch(principal: string, sessionId: string, lastSeenAt: number): Promise<void> {
    const sessions = this.#byPrincipal.get(principal);
    const entry = sessions === undefined ? undefined : find(sessions, sessionId);
    if (entry && lastSeenAt > entry.lastSeenAt) entry.lastSeenAt = lastSeenAt;
  }

  async list(principal: string): Promise<SessionIndexEntry[]> {
    const sessions = this.#byPrincipal.get(principal);
    if (!sessions) return [];
    return all(sessions).sort(oldestFirst).map(publicEntry);
  }

  /** Removes and returns every id of `principal`. */
  async removeAll(principal: string): Promise<string[]> {
    const sessions = this.#byPrincipal.get(principal);
    this.#byPrincipal.delete(principal);
    return sessions ? ids(sessions) : [];
  }
}
