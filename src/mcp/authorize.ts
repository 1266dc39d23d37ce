/**
 * `authorizeSession`: the app's OAuth callback binds a session to a principal and gets the
 * session token its client must send from now on. Credentials are written before the session
 * is bound: a vault that fails leaves the session as it was (unauthenticated, no token), never
 * bound without the token its client needs.
 */
import type { Auditor } from '../audit/index.js';
import { McpGuardError, sessionNotFound } from './errors.js';
import { checkPrincipal, type SessionIdentity, type SessionLifecycle } from './lifecycle.js';
import type { SessionRegistry } from './registry.js';
import type { SessionRecord } from './session-record.js';
import type { IssuedSessionToken, SessionTokens } from './session-tokens.js';
import { normalizeEmail, type CredentialVault } from './vault.js';

export interface AuthorizeContext {
  registry: SessionRegistry<SessionRecord>;
  lifecycle: SessionLifecycle;
  tokens: SessionTokens;
  vault: CredentialVault;
  auditor: Auditor;
}

/**
 * @example
 * const authorizeSession = createAuthorizeSession({ registry, lifecycle, tokens, vault, auditor });
 * res.json(await authorizeSession(sessionId, { principal, email, credentials: { [email]: tokens } }));
 */
export function createAuthorizeSession(context: AuthorizeContext): (sessionId: string, identity: SessionIdentity) => Promise<IssuedSessionToken> {
  const { registry, lifecycle, tokens, vault, auditor } = context;
  return async function authorizeSession(sessionId, identity) {
    const record = typeof sessionId === 'string' ? registry.get(sessionId) : undefined;
    if (!record || !record.initialized) {
      auditor.emit('mcp_session_unknown', { sessionId: typeof sessionId === 'string' ? sessionId : undefined, reason: 'authorize_unknown_session' });
      throw sessionNotFound();
    }
    const expired = registry.expiry(record);
    if (expired) {
      lifecycle.retire(record, 'mcp_session_expired', expired);
      throw sessionNotFound();
    }
    const granted = new Set([...(identity.emails ?? []), ...(identity.email ? [identity.email] : [])].map((email) => normalizeEmail(String(email))));
    for (const email of Object.keys(identity.credentials ?? {})) {
      // Checked before binding, so a bad call leaves the session as it was.
      if (!granted.has(normalizeEmail(email))) {
        throw new TypeError(`authorizeSession: \`identity.credentials\` has an account that is not in \`identity.emails\`: ${JSON.stringify(email)}`);
      }
    }
    checkPrincipal(identity);
    if (record.principal !== undefined && record.principal !== identity.principal) await lifecycle.bind(record, identity, 'callback'); // refuses, audited
    try {
      for (const [email, credential] of Object.entries(identity.credentials ?? {})) await vault.set(identity.principal, email, credential);
    } catch (err) {
      lifecycle.audit('credential_store_failed', record, { principal: identity.principal, reason: 'vault_write_failed' });
      throw new McpGuardError('CREDENTIAL_STORE_UNAVAILABLE', 'The credential store is unavailable; the session was not authorized. Try again.', { cause: err });
    }
    if (record.retired) throw sessionNotFound(); // revoked while the vault was written
    await lifecycle.bind(record, identity, 'callback');
    for (const email of Object.keys(identity.credentials ?? {})) lifecycle.audit('credential_stored', record, { detail: { email: normalizeEmail(email) } });
    return tokens.issue(record, registry.deadlines(record).absolute);
  };
}
