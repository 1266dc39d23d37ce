/**
 * What happens to a session of the sessionful guard: it is admitted under its principal's limit
 * (through the core's `SessionIndex`, shared by a fleet), bound, re-authorized, revoked, expired.
 * Ending a session cuts its channels at once and tells the fleet (tombstone first, then the
 * index), so no instance serves an id the index no longer counts.
 */
import type { Auditor, AuditEventType, AuditFields } from '../audit/index.js';
import type { Clock } from '../clock/index.js';
import type { SessionIndex, SessionLimit } from '../store/contracts.js';
import { REVOKED_REQUEST_MESSAGE, type SessionChannels } from './channels.js';
import { McpGuardError, sessionNotFound } from './errors.js';
import type { McpFleetEvent, McpFleetSignals } from './fleet.js';
import type { SessionRegistry } from './registry.js';
import type { AuthMethod, SessionRecord } from './session-record.js';
import { normalizeEmail, type StoredCredential } from './vault.js';

/** What `authorizeSession` binds a session to. */
export interface SessionIdentity {
  /** The authenticated principal (user id, or issuer + subject). */
  principal: string;
  /** The identity provider, when there is one (recorded in the token as `iss`). */
  issuer?: string;
  /** The one account this session may use credentials of. */
  email?: string;
  /** The accounts this session may use credentials of. */
  emails?: readonly string[];
  /** Credentials to store for those accounts (e.g. the OAuth tokens the callback just received). */
  credentials?: Readonly<Record<string, StoredCredential>>;
}

export interface SessionLifecycleOptions {
  registry: SessionRegistry<SessionRecord>;
  channels: SessionChannels;
  index: SessionIndex;
  signals: McpFleetSignals | undefined;
  limit: SessionLimit;
  absoluteTimeoutMs: number;
  auditor: Auditor;
  clock: Clock;
}

export interface SessionLifecycle {
  audit(type: AuditEventType, record: Pick<SessionRecord, 'id' | 'principal'> | undefined, fields?: AuditFields): void;
  /** Binds a session to a principal: the limit is enforced here (through the shared index), before anything is granted. */
  bind(record: SessionRecord, identity: SessionIdentity, method: AuthMethod): Promise<void>;
  /** Removes a session at once (its id answers 404 from now on) and closes it when no request is using it. */
  retire(record: SessionRecord, event: 'mcp_session_revoked' | 'mcp_session_expired', reason: string, ip?: string, fromFleet?: boolean): void;
  /** Closes the session's server and transport (once no request needs them). */
  close(record: SessionRecord): void;
  /** Drops a session that never initialized: no pool place, no index entry, no server left behind. */
  discard(record: SessionRecord): void;
  /** Ends the sessions whose deadline came; returns how many. */
  sweep(): number;
  /** Revokes every session of a principal, here and (with signals) on every instance; returns how many were here. */
  revokePrincipal(principal: string, reason: string): number;
  /** Revokes every session of every instance (the emergency switch); returns how many were here. */
  emergency(reason: string): number;
  /** Resolves once what revocations told the fleet is written; rejects when a fleet write failed. */
  settled(): Promise<void>;
  /** Resolves once the fleet's messages reach this instance (at once without a fleet); rejects when subscribing failed. */
  ready(): Promise<void>;
  /** Stops listening to the fleet. */
  unsubscribe(): Promise<void>;
  /** Runs a fleet write in the background, so `settled()` can wait for it. */
  toFleet(write: () => Promise<unknown>): void;
}

/** The accounts an identity grants, normalized; a value that is not an email address is a `TypeError`. */
export function grantedEmails(identity: SessionIdentity): string[] {
  return [...(identity.emails ?? []), ...(identity.email ? [identity.email] : [])].map(function checkedEmail(email) {
    if (typeof email !== 'string' || !email.includes('@')) throw new TypeError(`authorizeSession: \`identity.emails\` must hold email addresses; got ${JSON.stringify(email)}`);
    return normalizeEmail(email);
  });
}

/** A principal is a non-empty string: anything else is the app's bug, refused before any state changes. */
export function checkPrincipal(identity: SessionIdentity): void {
  if (typeof identity.principal !== 'string' || identity.principal.length === 0) {
    throw new TypeError('authorizeSession: `identity.principal` must be a non-empty string');
  }
}

/**
 * @example
 * const lifecycle = createSessionLifecycle({ registry, channels, index, signals, limit, absoluteTimeoutMs, auditor, clock });
 * await lifecycle.bind(record, { principal: 'alice' }, 'callback');
 */
export function createSessionLifecycle(options: SessionLifecycleOptions): SessionLifecycle {
  const { registry, channels, index, signals, limit, absoluteTimeoutMs, auditor, clock } = options;
  const fleetWrites = new Set<Promise<unknown>>();
  const fleetFailures: unknown[] = [];

  function audit(type: AuditEventType, record: Pick<SessionRecord, 'id' | 'principal'> | undefined, fields: AuditFields = {}): void {
    auditor.emit(type, { sessionId: record?.id, principal: record?.principal, ...fields });
  }

  function toFleet(write: () => Promise<unknown>): void {
    const running = Promise.resolve()
      .then(write)
      .catch(function fleetWriteFailed(err: unknown) {
        fleetFailures.push(err);
        auditor.emit('config_error', { reason: 'fleet_write_failed' });
        process.emitWarning(`fixation-guard/mcp: a revocation could not be shared with the fleet: ${(err as Error)?.message ?? String(err)}`);
      })
      .finally(() => fleetWrites.delete(running));
    fleetWrites.add(running);
  }

  function close(record: SessionRecord): void {
    const server = record.server;
    record.server = undefined;
    record.transport = undefined;
    if (server) {
      server.close().catch(function ignoreCloseError() {
        // Closing a transport whose client is gone can reject; the session is already dead.
      });
    }
  }

  function retire(record: SessionRecord, event: 'mcp_session_revoked' | 'mcp_session_expired', reason: string, ip?: string, fromFleet = false): void {
    if (record.retired) return;
    record.retired = true;
    registry.delete(record);
    audit(event, record, { reason, ip });
    const principal = record.principal;
    if (principal !== undefined) {
      // Tombstone first, then unindex: no instance may still serve an id the index no longer counts.
      toFleet(async function endEverywhere() {
        if (signals && !fromFleet) await signals.end(record.id, absoluteTimeoutMs);
        await index.remove(principal, record.id);
      });
    }
    // Cut every channel at once: a GET stream or a running call must not outlive the revocation
    // (nor carry what the server sends after it). Only the request that revoked its own session
    // (revoke_current_session) keeps its answer; the session closes when it is sent.
    const current = channels.current();
    const spared = current?.record === record ? current : undefined;
    const answered = channels.cancel(record, (proof) => proof !== spared, REVOKED_REQUEST_MESSAGE, 'session_revoked');
    record.transport?.closeStandaloneSSEStream();
    if (spared === undefined || record.inflight === 0) {
      void Promise.allSettled(answered).then(function closeRevoked() {
        close(record);
      });
    }
  }

  /**
   * Enters the session in the principal's index (shared by the fleet): reserve (refused at the
   * limit under `rejectLogin`), mark live, confirm (naming the oldest beyond the limit under
   * `evictOldest`), then end each evicted session wherever it lives.
   */
  async function admit(record: SessionRecord, principal: string): Promise<void> {
    const now = clock.now();
    const entry = { sessionId: record.id, createdAt: now, lastSeenAt: now };
    const reserved = await index.admit(principal, entry, limit, { phase: 'reserve' });
    if (!reserved.admitted) {
      audit('mcp_session_limit', record, { principal, reason: 'rejectLogin', detail: { limit: limit.max } });
      throw new McpGuardError('SESSION_LIMIT_REACHED', `Too many sessions for this user (limit ${limit.max}); close one first.`);
    }
    try {
      await signals?.markLive(record.id, absoluteTimeoutMs);
      const confirmed = await index.admit(principal, entry, limit, { phase: 'confirm' });
      if (!confirmed.admitted) throw sessionNotFound(); // ended while it was admitted
      for (const victim of confirmed.evicted) {
        const local = registry.get(victim);
        audit('mcp_session_limit', local ?? { id: victim, principal }, { reason: 'evictOldest', detail: { limit: limit.max } });
        if (local) retire(local, 'mcp_session_revoked', 'session_limit_evicted');
        else {
          // Another instance's session: its tombstone ends it there (and its next request finds it).
          await signals?.end(victim, absoluteTimeoutMs);
          await index.remove(principal, victim);
        }
      }
    } catch (err) {
      await index.remove(principal, record.id).catch(() => undefined);
      throw err;
    }
  }

  async function bind(record: SessionRecord, identity: SessionIdentity, method: AuthMethod): Promise<void> {
    checkPrincipal(identity);
    const refuseOtherOwner = () => {
      audit('session_owner_mismatch', record, { reason: 'reauthorization_by_other_principal', detail: { attempted: identity.principal } });
      return new McpGuardError('SESSION_OWNER_MISMATCH', 'This session belongs to another principal; start a new session.');
    };
    if (record.principal !== undefined && record.principal !== identity.principal) throw refuseOtherOwner();
    const emails = grantedEmails(identity);
    if (record.principal === undefined) {
      // Two bindings of one session may race (both see no principal yet): the first one claims
      // the session before its admission, and another principal's binding is refused here.
      if (record.binding !== undefined && record.binding !== identity.principal) throw refuseOtherOwner();
      const claimed = record.binding === undefined;
      if (claimed) record.binding = identity.principal;
      try {
        await admit(record, identity.principal);
      } finally {
        if (claimed) record.binding = undefined;
      }
      // The session may have ended meanwhile, or (a claim cleared by a failure) another binding
      // of it may have won. Either way this binding's entry leaves its principal's index: it
      // would count against that principal's limit, and an eviction there would end a session
      // that is not theirs.
      const lost = record.principal !== undefined && record.principal !== identity.principal;
      if (record.retired || lost) {
        await index.remove(identity.principal, record.id).catch(() => undefined);
        throw record.retired ? sessionNotFound() : refuseOtherOwner();
      }
      if (record.principal === undefined) {
        record.principal = identity.principal;
        record.issuer = identity.issuer;
        record.authorizedAt = clock.now();
        record.authMethod = method;
        registry.bound(record);
      }
    }
    for (const email of emails) record.emails.add(email);
    record.generation += 1;
    const cancelled = channels.supersede(record);
    if (cancelled > 0) audit('session_token_mismatch', record, { reason: 'request_superseded', detail: { cancelled } });
  }

  function onFleetEvent(event: McpFleetEvent): void {
    if (event.type === 'ended') {
      const record = registry.get(event.sessionId);
      if (record) retire(record, 'mcp_session_revoked', 'ended_by_fleet', undefined, true);
      return;
    }
    for (const record of registry.all()) {
      if (record.createdAt <= event.at) retire(record, 'mcp_session_revoked', 'emergency_disable_session_reuse', undefined, true);
    }
  }
  const subscription = signals?.subscribe(onFleetEvent);
  // Reported by `ready()` and here; not a fleet write, so `settled()` does not reject for it.
  subscription?.catch(function subscribeFailed(err: unknown) {
    process.emitWarning(`fixation-guard/mcp: could not subscribe to the fleet's revocations: ${(err as Error)?.message ?? String(err)}`);
  });

  return {
    audit,
    bind,
    retire,
    close,
    discard(record) {
      record.retired = true;
      registry.delete(record);
      const principal = record.principal;
      if (principal !== undefined) toFleet(() => index.remove(principal, record.id));
      if (record.inflight === 0) close(record);
    },
    toFleet,
    sweep() {
      const expired = registry.takeExpired();
      for (const [record, reason] of expired) retire(record, 'mcp_session_expired', reason);
      return expired.length;
    },
    revokePrincipal(principal, reason) {
      const records = registry.ofPrincipal(principal).filter((record) => !record.retired);
      for (const record of records) retire(record, 'mcp_session_revoked', reason);
      if (signals) {
        // The principal's sessions on other instances: each gets a tombstone, then leaves the index.
        toFleet(async function endPrincipalEverywhere() {
          for (const entry of await index.list(principal)) {
            await signals.end(entry.sessionId, absoluteTimeoutMs);
            await index.remove(principal, entry.sessionId);
          }
        });
      }
      return records.length;
    },
    emergency(reason) {
      // Every token names its session id, and ids are never reused: tokens die with their sessions.
      const records = registry.all();
      auditor.emit('emergency_disable_session_reuse', { reason, detail: { revoked: records.length } });
      for (const record of records) retire(record, 'mcp_session_revoked', 'emergency_disable_session_reuse');
      const at = clock.now();
      if (signals) toFleet(() => signals.endAllBefore(at));
      return records.length;
    },
    async settled() {
      while (fleetWrites.size > 0) await Promise.allSettled([...fleetWrites]);
      if (fleetFailures.length > 0) throw new Error(`fixation-guard/mcp: ${fleetFailures.length} fleet write(s) failed`, { cause: fleetFailures[0] });
    },
    async ready() {
      await subscription;
    },
    async unsubscribe() {
      const unsubscribe = await subscription?.catch(() => undefined);
      await unsubscribe?.().catch(() => undefined);
    },
  };
}
