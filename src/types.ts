/**
 * Type augmentation: the guard's own state inside every session record, and the request API.
 */
import type { ElevateOptions, LoginOptions, SessionGuardRequestApi } from './guard/request-api.js';

/** What the guard keeps in each session record, under `fixationGuard`. */
export interface GuardState {
  v: 1;
  createdAt: number;
  lastSeenAt: number;
  rotatedAt: number;
  /** Set only by `req.login` (or a fresh session saved by passport's own regenerate). */
  principal?: string;
  /** Keyed hash of the id the authentication was bound to: persisted anywhere else, it trips. */
  boundTo?: string;
  authAt?: number;
  /** Who the app's own keys (`authKeys`) named when the authentication was bound (the first). */
  authPrincipal?: string;
  /** What each `authKeys` path named when the authentication was bound. */
  authNames?: Record<string, string>;
  elevatedAt?: number;
  privilege?: string;
  credentialVersion?: string;
}

declare module 'express-session' {
  interface SessionData {
    fixationGuard?: GuardState;
  }
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The guard's per-request API; always present after `sessionGuard()`. */
      sessionGuard?: SessionGuardRequestApi;
      /**
       * Authenticates `principal` on this session: rotates the id per the strategy, binds, indexes
       * and saves before resolving. Installed by `sessionGuard()` unless `requestMethods: false`
       * (passport installs its own `req.login`; use `req.sessionGuard.login` beside it).
       */
      login(principal: string, options?: LoginOptions): Promise<void>;
      /** Ends this session server-side and clears the cookie. */
      logout(): Promise<void>;
      /** A privilege change: rotates the id, keeps the authentication. */
      elevate(options?: ElevateOptions): Promise<void>;
      /** Ends every session of the current principal, this one included. */
      logoutEverywhere(): Promise<number>;
    }
  }
}

export {};
