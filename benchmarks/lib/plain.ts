/** The baseline: plain express-session, configured the same way wherever the benchmarks use it. */
import session, { type Store } from 'express-session';

/** How long a session lives in every variant (the guard's default absolute timeout). */
export const ABSOLUTE_TIMEOUT_MS = 4 * 3_600_000;

export function plainSession(secret: string, store?: Store): ReturnType<typeof session> {
  return session({
    secret,
    name: 'sid',
    resave: false,
    saveUninitialized: false,
    cookie: { httpOnly: true, sameSite: 'lax', path: '/', maxAge: ABSOLUTE_TIMEOUT_MS },
    ...(store ? { store } : {}),
  });
}
