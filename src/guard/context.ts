import type { Auditor } from '../audit/index.js';
import type { Clock } from '../clock/index.js';
import type { GuardedStore } from '../store/guarded-store.js';
import type { SessionLimit } from '../store/contracts.js';
import type { RotationStrategy } from '../strategies/index.js';
import type { CookieOptions } from 'express-session';

/** Everything a request needs from the guard, resolved once at construction. */
export interface GuardContext {
  store: GuardedStore;
  auditor: Auditor;
  clock: Clock;
  strategy: RotationStrategy;
  keep: readonly string[];
  drop: readonly string[];
  cookieName: string;
  cookieOptions: CookieOptions;
  secrets: readonly string[];
  idleTimeoutMs: number;
  absoluteTimeoutMs: number;
  rotateEveryMs: number | undefined;
  lastSeenGranularityMs: number;
  sessionLimit: SessionLimit | undefined;
  credentialVersion: ((principal: string) => unknown) | undefined;
  development: boolean;
  genid: () => string;
}
