/** The pure policy layer: guard state, principal, binding, tripwire and timeout rules. No I/O. */
export { GUARD_KEY, newGuardState, withoutAuthentication, stateOf, type GuardState } from './state.js';
export { DEFAULT_AUTH_KEYS, authKeyNames, authKeyPrincipal, principalOf } from './principal.js';
export { Binding } from './binding.js';
export { tripReason, type TripContext } from './tripwire.js';
export { lifecycleDue, type LifecycleDue, type TimeoutPolicy } from './timeouts.js';
