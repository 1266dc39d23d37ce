import type { AdmitOptions, AdmitResult, SessionIndex, SessionIndexEntry, SessionLimit } from '../store/contracts.js';

interface Held extends SessionIndexEntry {
  /** Reserved by a login that has not written its record yet. */
  pending: boolean;
  /** Order of admission, to break createdAt ties. */
  seq: number;
}

function oldestFirst(a: Held, b: Held): number {
  return a.createdAt - b.createdAt || a.seq - b.seq;
}

function publicEntry({ pending: _p, seq: _s, ...entry }: Held): SessionIndexEntry {
  return { ...entry };
}

/**
 * A per-process session index: principal → sessions. Right for one instance on MemoryStore;
 * a fleet needs a shared one (`RedisSessionIndex` from `fixation-guard/redis`).
 *
 * @example
 * app.use(sessionGuard({ secret, index: new MemorySessionIndex(), maxSessionsPerUser: 3 }));
 */
export class MemorySessionIndex implements SessionIndex {
  readonly #byPrincipal = new Map<string, Map<string, Held>>();
  #seq = 0;

  async admit(principal: string, entry: SessionIndexEntry, limit?: SessionLimit, options?: AdmitOptions): Promise<AdmitResult> {
    // Without options: reserve and confirm in one step.
    if (!options) {
      const reserved = await this.admit(principal, entry, limit, { phase: 'reserve' });
      return reserved.admitted ? await this.admit(principal, entry, limit, { phase: 'confirm' }) : reserved;
    }
    let sessions = this.#byPrincipal.get(principal);
    if (!sessions) {
      sessions = new Map();
      this.#byPrincipal.set(principal, sessions);
    }
    const evicted: string[] = [];
    const existing = sessions.get(entry.sessionId);
    if (options.phase === 'reserve') {
      if (limit?.onLimit === 'rejectLogin' && !existing) {
        let count = 0;
        for (const id of sessions.keys()) if (id !== options.replacing) count++;
        if (count >= limit.max) {
          if (sessions.size === 0) this.#byPrincipal.delete(principal);
          return { admitted: false, evicted };
        }
      }
      sessions.set(entry.sessionId, { ...entry, pending: true, seq: existing?.seq ?? this.#seq++ });
      return { admitted: true, evicted };
    }
    // Confirming an entry that is no longer listed: the login was ended (evicted, revoked)
    // while in flight. It is not brought back.
    if (!existing) return { admitted: false, evicted };
    existing.pending = false;
    existing.lastSeenAt = Math.max(entry.lastSeenAt, existing.lastSeenAt);
    if (limit?.onLimit === 'evictOldest') {
      // Victims stay listed: the caller tombstones each, then removes it.
      const live = [...sessions.values()].filter((held) => !held.pending && held.sessionId !== entry.sessionId).sort(oldestFirst);
      const excess = live.length + 1 - limit.max;
      for (const old of live.slice(0, Math.max(0, excess))) evicted.push(old.sessionId);
    }
    return { admitted: true, evicted };
  }

  async remove(principal: string, sessionId: string): Promise<void> {
    const sessions = this.#byPrincipal.get(principal);
    if (!sessions) return;
    sessions.delete(sessionId);
    if (sessions.size === 0) this.#byPrincipal.delete(principal);
  }

  async rename(principal: string, oldId: string, newId: string, lastSeenAt: number): Promise<void> {
    const sessions = this.#byPrincipal.get(principal);
    const entry = sessions?.get(oldId);
    if (!sessions || !entry) return;
    sessions.delete(oldId);
    sessions.set(newId, { ...entry, sessionId: newId, lastSeenAt: Math.max(lastSeenAt, entry.lastSeenAt) });
  }

  async touch(principal: string, sessionId: string, lastSeenAt: number): Promise<void> {
    const entry = this.#byPrincipal.get(principal)?.get(sessionId);
    if (entry && lastSeenAt > entry.lastSeenAt) entry.lastSeenAt = lastSeenAt;
  }

  async list(principal: string): Promise<SessionIndexEntry[]> {
    const sessions = this.#byPrincipal.get(principal);
    if (!sessions) return [];
    return [...sessions.values()].sort(oldestFirst).map(publicEntry);
  }

  /** Removes and returns every id of `principal`. */
  async removeAll(principal: string): Promise<string[]> {
    const sessions = this.#byPrincipal.get(principal);
    this.#byPrincipal.delete(principal);
    return sessions ? [...sessions.keys()] : [];
  }
}
