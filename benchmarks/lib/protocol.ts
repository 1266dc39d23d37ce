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
}

/** What the server measured between `start` and `stop`. */
export interface CpuSample {
  requests: number;
  userUs: number;
  systemUs: number;
  wallUs: number;
  cpuUsPerRequest: number;
  rssBytes: number;
}

export type RunnerMessage = { type: 'start' } | { type: 'stop' } | { type: 'exit' };

export type ServerMessage =
  | { type: 'ready'; port: number }
  | { type: 'started' }
  | { type: 'stopped'; sample: CpuSample };
