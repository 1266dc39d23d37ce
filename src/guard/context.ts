import type { Auditor } from '../audit/index.js';
import type { Clock } from '../clock/index.js';
import type { Binding } from '../policy/binding.js';
import type { TimeoutPolicy } from '../policy/timeouts.js';
import type { GuardedStore } from '../store/guarded-store.js';
import type { SessionLimit } from '../store/contracts.js';
import type { RotationStrategy } from '../strategies/index.js';
import type { CookieOptions } from 'express-session';

/** Everything a request needs from the guard, resolved once at construction. */
export interface GuardContext {
  store: GuardedStore;
  auditor: Auditor;
  clock: Clock;
  binding: Binding;
  authKeys: readonly string[];
  strategy: RotationStrategy;
  keep: readonly string[];
  drop: readonly string[];
  cookieName: string;
  cookieOptions: CookieOptions;
  secrets: readonly string[];
  timeouts: TimeoutPolicy;
  /** How long a periodically rotated id still resolves to its successor; 0 = never. */
  rotationGraceMs: number;
  sessionLimit: SessionLimit | undefined;
  credentialVersion: ((principal: string) => unknown) | undefined;
  errorResponse: 'json' | 'next';
  development: boolean;
  genid: () => string;
  /**
   * A new id for a session of `principal` (undefined: anonymous). A store may place an
   * authenticated session by its id (`sessionIdFor`: the Redis `spread` layout puts a
   * principal's sessions in the slot of its index); otherwise it is `genid()`.
   */
  genidFor: (principal: string | undefined) => string;
}
