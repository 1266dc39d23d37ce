/** The IPC messages between the runner and a bench server process (benchmarks/server.ts). */
import type { RotationStrategy } from '../../src/index.js';

export interface ServerVariant {
  /** `plain`: express-session alone; `guard`: sessionGuard(). */
  impl: 'plain' | 'guard';
  store: 'memory' | 'redis';
  redisUrl?: string;
  /** Redis key prefix (with a hash tag); every variant gets its own. */
  prefix?: string;
  strategy?: RotationStrategy;
  /** Redis only: `false` hides RedisSessionStore.rename, so the guard uses set-then-tombstone. */
  atomicRename?: boolean;
  /**
   * Guard only: after each login the guard's clock moves on by this much, so that the session
   * just logged in is measured as one past its first minute (the steady state of a logged-in
   * user: the guard records activity once a minute, and express-session's touches in between
   * need not reach the store). Without it, the session is in its first minute after login.
   */
  sessionAgeMs?: number;
  /** Node options of this server's process (e.g. the young generation's size), the same for every variant of a scenario. */
  nodeFlags?: string[];
}

/** What the server measured between `start` and `stop`. */
export interface CpuSample {
  requests: number;
  userUs: number;
  systemUs: number;
  wallUs: number;
  cpuUsPerRequest: number;
  rssBytes: number;
  /** Main-thread pauses for young (scavenge) and other (mark-compact, incremental steps) collections during the run, ms. */
  gcYoungMs: number;
  gcFullMs: number;
  /** The heap in use at the end of the run. */
  heapUsedBytes: number;
}

export type RunnerMessage = { type: 'start' } | { type: 'stop' } | { type: 'exit' };

export type ServerMessage =
  | { type: 'ready'; port: number }
  | { type: 'started' }
  | { type: 'stopped'; sample: CpuSample };
