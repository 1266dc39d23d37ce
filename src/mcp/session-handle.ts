/**
 * The session as the app's server factory and its tools see it: the owner is the verified
 * token's (or the request's proof), never a tool argument's, and credentials go through the
 * session's ACL as the running request proved it.
 */
import type { Auditor } from '../audit/index.js';
import { authorizeCredentialAccess, requireCredential, type CredentialAccessSubject } from './acl.js';
import type { SessionChannels } from './channels.js';
import { PermissionError } from './errors.js';
import type { SessionLifecycle } from './lifecycle.js';
import type { SessionRegistry } from './registry.js';
import type { SessionRecord } from './session-record.js';
import { normalizeEmail, type CredentialVault, type StoredCredential } from './vault.js';

/** A session as the app's server factory and tools see it. The owner is the verified token's, never a tool argument's. */
export interface McpSession {
  /** The raw session id: treat it as a secret (it is never logged). */
  readonly id: string;
  readonly authenticated: boolean;
  readonly principal: string | undefined;
  /** Normalized emails whose credentials this session may use. */
  readonly emails: readonly string[];
  /** A credential through the session's ACL: `PermissionError` for any other account. */
  getCredential(email: unknown): Promise<StoredCredential>;
  /** Stores a credential for an account in the session's ACL. */
  storeCredential(email: unknown, credential: StoredCredential): Promise<void>;
  /** Status without raw ids (what `session://validate` answers). */
  status(): McpSessionStatus;
  /** Revokes this session: the next request with its id gets 404. */
  revoke(reason?: string): void;
}

export interface McpSessionStatus {
  valid: boolean;
  authenticated: boolean;
  /** Short keyed hash of the session id, as in the audit log. */
  session: string;
  principal: string | null;
  emails: string[];
  authMethod: 'callback' | 'bearer' | null;
  createdAt: string;
  idleExpiresAt: string;
  absoluteExpiresAt: string;
}

export interface SessionHandleContext {
  vault: CredentialVault;
  auditor: Auditor;
  channels: SessionChannels;
  lifecycle: SessionLifecycle;
  registry: SessionRegistry<SessionRecord>;
}

function subjectOf(record: SessionRecord): CredentialAccessSubject {
  return { sessionId: record.id, principal: record.principal, emails: record.emails, ip: record.ip };
}

/**
 * The subject for a credential access from `record`'s handle. Inside a request, access needs
 * the identity that request proved: the same session, its current generation, still live.
 * Outside any request (the app's own code) the session's current identity applies.
 */
function callerSubject(context: SessionHandleContext, record: SessionRecord, email: unknown, action: 'read' | 'write'): CredentialAccessSubject {
  const proof = context.channels.current();
  if (proof === undefined) return subjectOf(record);
  const reason =
    proof.record !== record
      ? 'request_for_other_session'
      : proof.generation !== record.generation || proof.principal !== record.principal
        ? 'authorization_superseded'
        : record.retired
          ? 'session_revoked'
          : undefined;
  if (reason === undefined) return subjectOf(record);
  context.auditor.emit('unauthorized_credential_access', {
    sessionId: proof.record.id,
    principal: proof.principal,
    ip: proof.record.ip,
    reason,
    detail: {
      email: typeof email === 'string' ? normalizeEmail(email).slice(0, 320) : null,
      action,
      requestGeneration: proof.generation,
      sessionGeneration: record.generation,
    },
  });
  throw new PermissionError('Permission denied: this request was not made with the session’s current authorization.');
}

/**
 * @example
 * const server = await createServer(sessionHandle(context, record));
 */
export function sessionHandle(context: SessionHandleContext, record: SessionRecord): McpSession {
  const { vault, auditor, channels, lifecycle, registry } = context;
  // Inside a request made before the session's latest authorization, the handle shows what that request proved.
  const view = () => {
    const stale = channels.stale(record);
    return stale
      ? { authenticated: false, principal: stale.principal, emails: [] as string[] }
      : { authenticated: record.principal !== undefined && !record.retired, principal: record.principal, emails: [...record.emails] };
  };
  return {
    get id() {
      return record.id;
    },
    get authenticated() {
      return view().authenticated;
    },
    get principal() {
      return view().principal;
    },
    get emails() {
      return view().emails;
    },
    async getCredential(email) {
      return requireCredential({ vault, auditor }, callerSubject(context, record, email, 'read'), email);
    },
    async storeCredential(email, credential) {
      const subject = callerSubject(context, record, email, 'write');
      authorizeCredentialAccess(auditor, subject, email, 'write');
      await vault.set(subject.principal as string, email as string, credential);
      lifecycle.audit('credential_stored', record, { detail: { email: normalizeEmail(email as string) } });
    },
    status() {
      const { idle, absolute } = registry.deadlines(record);
      const stale = channels.stale(record) !== undefined;
      const seen = view();
      return {
        valid: !record.retired && registry.expiry(record) === undefined && !stale,
        authenticated: !stale && record.principal !== undefined,
        session: auditor.hash(record.id),
        principal: seen.principal ?? null,
        emails: seen.emails,
        authMethod: record.authMethod ?? null,
        createdAt: new Date(record.createdAt).toISOString(),
        idleExpiresAt: new Date(idle).toISOString(),
        absoluteExpiresAt: new Date(absolute).toISOString(),
      };
    },
    revoke(reason = 'revoked_by_session') {
      lifecycle.retire(record, 'mcp_session_revoked', reason);
    },
  };
}
