import type { Auditor } from '../audit/index.js';
import { McpGuardError, PermissionError } from './errors.js';
import { normalizeEmail, type CredentialVault, type StoredCredential } from './vault.js';

/** Who is asking: a session as the guard verified it for the current request. */
export interface CredentialAccessSubject {
  /** Raw session id (hashed by the auditor). */
  sessionId: string;
  /** The principal from the verified session token; `undefined` before authentication. */
  principal: string | undefined;
  /** Normalized emails the session was authorized for. */
  emails: ReadonlySet<string>;
  ip?: string | undefined;
}

export interface CredentialAccessContext {
  vault: CredentialVault;
  auditor: Auditor;
}

/**
 * The one door to stored credentials: checks the session's ACL, audits, then reads the
 * vault. The email is checked the same way whether the app chose it or a tool argument did,
 * so a client cannot name another user's account and get it.
 *
 * @example
 * const credential = await accessCredential({ vault, auditor }, subject, args.email, 'read');
 */
export async function accessCredential(
  context: CredentialAccessContext,
  subject: CredentialAccessSubject,
  email: unknown,
  action: 'read' | 'write' = 'read',
): Promise<StoredCredential | undefined> {
  authorizeCredentialAccess(context.auditor, subject, email, action);
  const key = normalizeEmail(email as string);
  if (action === 'read') {
    const credential = await context.vault.get(subject.principal as string, key);
    context.auditor.emit('credential_access_granted', {
      sessionId: subject.sessionId,
      principal: subject.principal,
      ip: subject.ip,
      detail: { email: key, found: credential !== undefined },
    });
    return credential;
  }
  return undefined;
}

/** Throws `PermissionError` (and audits `unauthorized_credential_access`) unless the ACL allows `email`. */
export function authorizeCredentialAccess(auditor: Auditor, subject: CredentialAccessSubject, email: unknown, action: 'read' | 'write'): void {
  const key = typeof email === 'string' ? normalizeEmail(email) : '';
  const reason =
    typeof email !== 'string' || key.length === 0
      ? 'invalid_email'
      : subject.principal === undefined
        ? 'unauthenticated'
        : !subject.emails.has(key)
          ? 'not_in_session_acl'
          : undefined;
  if (reason === undefined) return;
  auditor.emit('unauthorized_credential_access', {
    sessionId: subject.sessionId,
    principal: subject.principal,
    ip: subject.ip,
    reason,
    detail: { email: typeof email === 'string' ? key.slice(0, 320) : null, action },
  });
  throw new PermissionError();
}

/** Reads a credential through the ACL and fails when there is none. */
export async function requireCredential(context: CredentialAccessContext, subject: CredentialAccessSubject, email: unknown): Promise<StoredCredential> {
  const credential = await accessCredential(context, subject, email, 'read');
  if (credential === undefined) throw new McpGuardError('CREDENTIAL_NOT_FOUND', 'No credential is stored for that account; authenticate it first.');
  return credential;
}
