import type { Auditor } from '../audit/index.js';
import type { CrossSitePolicy } from '../cross-site/index.js';
import type { Clock } from '../clock/index.js';
import type { Binding } from '../policy/binding.js';
import type { TimeoutPolicy } from '../policy/timeouts.js';
import type { GuardedStore } from '../store/guarded-store.js';
import type { SessionLimit } from '../store/contracts.js';
import type { RotationStrategy } from '../strategies/index.js';
import type { CookieOptions } from 'express-session';
import type { ResolvedCookie } from '../cookie/hardened.js';
import type { PlainHttpMode, PlainHttpReports } from './plain-http.js';

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
  /** The configured cookie (Secure `__Host-sid` by default). */
  cookieName: string;
  cookieOptions: CookieOptions;
  cookie: ResolvedCookie;
  /** The cookie of a plain-HTTP request from this machine in development (`plainHttpDevelopment: 'loopback'`). */
  loopbackCookie: ResolvedCookie | undefined;
  plainHttp: PlainHttpMode;
  /** express-session's `proxy`: undefined follows Express's `trust proxy`. */
  trustProxy: boolean | undefined;
  production: boolean;
  /** What was already said about plain HTTP (once per guard). */
  plainHttpReports: PlainHttpReports;
  secrets: readonly string[];
  timeouts: TimeoutPolicy;
  /** How long a periodically rotated id still resolves to its successor; 0 = never. */
  rotationGraceMs: number;
  sessionLimit: SessionLimit | undefined;
  credentialVersion: ((principal: string) => unknown) | undefined;
  errorResponse: 'json' | 'next';
  development: boolean;
  genid: () => string;
  /** Login CSRF: which cross-site logins and elevations are refused; `undefined` = off (`loginCsrf: false`). */
  crossSite: CrossSitePolicy | undefined;
  /** The handle `listSessions` shows for a session id: a keyed hash, useless as a cookie. */
  sessionHandle: (sessionId: string) => string;
  /**
   * A new id for a session of `principal` (undefined: anonymous). A store may place an
   * authenticated session by its id (`sessionIdFor`: the Redis `spread` layout puts a
   * principal's sessions in the slot of its index); otherwise it is `genid()`.
   */
  genidFor: (principal: string | undefined) => string;
}
