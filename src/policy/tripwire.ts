/**
 * The tripwire's rules: an authenticated record is only ever persisted (or served) under the
 * id it was bound to by `req.login` & co., and its app-level identity never switches to
 * someone else without a new login. Pure: the Express layer says which ids are fresh (made in
 * this request, unknown to anyone) and which authentications were bound in this request.
 */
import type { Binding } from './binding.js';
import { authKeyName, principalOf } from './principal.js';
import { stateOf } from './state.js';

export interface TripContext {
  binding: Binding;
  authKeys: readonly string[];
  /** The id was generated in this request: nobody else can know it. */
  fresh: boolean;
  /** `req.login` & co. bound this record's authentication in this request. */
  boundNow: boolean;
}

/** Why persisting `record` under `sessionId` must trip the wire, or undefined when it may be persisted. */
export function tripReason(record: Record<string, unknown>, sessionId: string, ctx: TripContext): string | undefined {
  if (ctx.fresh || ctx.boundNow) return undefined;
  const principal = principalOf(record, ctx.authKeys);
  if (principal === undefined) return undefined;
  const state = stateOf(record);
  if (!ctx.binding.isBound(state, sessionId)) return 'authenticated record under an unbound id';
  // Every app key must still name whom it named when the authentication was bound (or the
  // bound principal itself, for a key set later, e.g. a user object loaded lazily).
  // Key by key, without collecting them: this runs on every request that loads a session.
  const recorded = state?.authNames;
  for (const key of ctx.authKeys) {
    const named = authKeyName(record, key);
    if (named === undefined || named === state?.principal) continue;
    const expected = recorded ? recorded[key] : state?.authPrincipal;
    if (named !== expected) return 'authentication changed to another principal without req.login()';
  }
  return undefined;
}
