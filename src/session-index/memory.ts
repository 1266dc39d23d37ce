import type { AdmitResult, SessionIndex, SessionIndexEntry, SessionLimit } from '../store/contracts.js';

/**
 * A per-process session index: principal → sessions. Right for one instance on MemoryStore;
 * a fleet needs a shared one (`RedisSessionIndex` from `fixation-guard/redis`).
 *
 * @example
 * app.use(sessionGuard({ secret, index: new MemorySessionIndex(), maxSessionsPerUser: 3 }));
 */
export class MemorySessionIndex implements SessionIndex {
  readonly #byPrincipal = new Map<string, Map<string, SessionIndexEntry>>();

  async admit(principal: string, entry: SessionIndexEntry, limit?: SessionLimit): Promise<AdmitResult> {
    let sessions = this.#byPrincipal.get(principal);
    if (!sessions) {
      sessions = new Map();
      this.#byPrincipal.set(principal, sessions);
    }
    const evicted: string[] = [];
    if (limit && !sessions.has(entry.sessionId)) {
      const room = limit.max - 1;
      if (sessions.size > room) {
        if (limit.onLimit === 'rejectLogin') return { admitted: false, evicted };
        const oldest = [...sessions.values()].sort((a, b) => a.createdAt - b.createdAt);
        for (const old of oldest.slice(0, sessions.size - room)) {
          sessions.delete(old.sessionId);
          evicted.push(old.sessionId);
        }
      }
    }
    sessions.set(entry.sessionId, { ...entry });
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
    sessions.set(newId, { ...entry, sessionId: newId, lastSeenAt });
  }

  async touch(principal: string, sessionId: string, lastSeenAt: number): Promise<void> {
    const entry = this.#byPrincipal.get(principal)?.get(sessionId);
    if (entry) entry.lastSeenAt = lastSeenAt;
  }

  async list(principal: string): Promise<SessionIndexEntry[]> {
    const sessions = this.#byPrincipal.get(principal);
    if (!sessions) return [];
    return [...sessions.values()].map((e) => ({ ...e })).sort((a, b) => a.createdAt - b.createdAt);
  }

  async removeAll(principal: string): Promise<string[]> {
    const sessions = this.#byPrincipal.get(principal);
    this.#byPrincipal.delete(principal);
    return sessions ? [...sessions.keys()] : [];
  }
}
