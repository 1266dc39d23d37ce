import type { SessionIndex } from '../session-index/index.js';

/** What one instance tells the others. */
export type McpFleetEvent = { type: 'ended'; sessionId: string } | { type: 'emergency'; at: number };

/**
 * How the instances of a fleet share revocations and the emergency switch. The per-principal
 * limit is the core's `SessionIndex` (`RedisSessionIndex` for a fleet); these are the signals
 * next to it. `createRedisMcpFleet` from `fixation-guard/redis` implements both on one Redis.
 */
export interface McpFleetSignals {
  /** Marks `sessionId` live for `ttlMs` (the shared index prunes entries without a live record). Never revives an ended id. */
  markLive(sessionId: string, ttlMs: number): Promise<void>;
  /** Ends `sessionId` on every instance: a tombstone every instance checks, then a message. */
  end(sessionId: string, ttlMs: number): Promise<void>;
  /** Ends every session created at or before `at`, on every instance (the emergency switch). */
  endAllBefore(at: number): Promise<void>;
  /** Whether any instance ended `sessionId` (created at `createdAt`). */
  isEnded(sessionId: string, createdAt: number): Promise<boolean>;
  /** Calls `listener` when another instance ends a session or throws the switch; resolves to an unsubscribe. */
  subscribe(listener: (event: McpFleetEvent) => void): Promise<() => Promise<void>>;
}

/** The shared parts of a fleet: the limit (a `SessionIndex`) and, across processes, the signals. */
export interface McpFleet {
  index: SessionIndex;
  signals?: McpFleetSignals;
}
