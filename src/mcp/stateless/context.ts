/**
 * What the app's server factory gets for one 2026-07-28 request: the principal the request
 * proved, the `requestState` hooks bound to it, principal-scoped state and credentials through
 * the principal's ACL.
 */
import type { AuthInfo, ServerContext } from '@modelcontextprotocol/server';
import type { Auditor } from '../../audit/index.js';
import { authorizeCredentialAccess, requireCredential, type CredentialAccessSubject } from '../acl.js';
import { normalizeEmail, type CredentialVault, type StoredCredential } from '../vault.js';
import type { SealedRequestStateCodec } from './codec.js';
import type { RequestScope } from './state-binding.js';
import type { PrincipalStateStore } from './state-store.js';

/** What the app's server factory gets for one 2026-07-28 request. */
export interface McpStatelessContext {
  readonly era: 'modern';
  /** The verified principal (from the bearer token's subject, or the app's `principal`). */
  readonly principal: string;
  readonly authInfo: AuthInfo;
  /** Normalized accounts whose credentials this principal may use. */
  readonly emails: readonly string[];
  /**
   * Spread into the server's options (`new McpServer(info, { ...ctx.serverOptions })`): the
   * handler then reads the verified payload with `ctx.mcpReq.requestState<T>()`. The adapter has
   * already refused any state that fails verification before the request reached the SDK.
   */
  readonly serverOptions: { requestState: { verify: (state: string, ctx: ServerContext) => unknown } };
  /** Seals a payload as `requestState`, bound to this principal, this server and this request. */
  readonly requestState: { mint(payload: unknown): string };
  /** State that spans calls, scoped to this principal: another principal's handle addresses nothing. */
  readonly state: {
    put(value: unknown, options?: { ttl?: number | string }): Promise<string>;
    get(handle: unknown): Promise<unknown>;
    delete(handle: unknown): Promise<boolean>;
  };
  /** A credential through the principal's ACL: `PermissionError` for any other account. */
  getCredential(email: unknown): Promise<StoredCredential>;
  /** Stores a credential for an account in the principal's ACL. */
  storeCredential(email: unknown, credential: StoredCredential): Promise<void>;
}

export interface StatelessContextDeps {
  codec: SealedRequestStateCodec;
  audience: string;
  stateStore: PrincipalStateStore;
  vault: CredentialVault;
  auditor: Auditor;
}

function subjectOf(scope: RequestScope): CredentialAccessSubject {
  return { sessionId: scope.id, principal: scope.principal, emails: scope.emails, ip: scope.ip };
}

/**
 * @example
 * const ctx = statelessContext({ codec, audience, stateStore, vault, auditor }, scope);
 */
export function statelessContext(deps: StatelessContextDeps, scope: RequestScope): McpStatelessContext {
  const { codec, audience, stateStore, vault, auditor } = deps;
  return {
    era: 'modern',
    principal: scope.principal,
    authInfo: scope.authInfo,
    emails: [...scope.emails],
    serverOptions: {
      requestState: {
        verify: function verifiedRequestState(state: string) {
          // Opened (and, for single use, consumed) by the adapter before the SDK ran; anything else is refused.
          if (!scope.opened.has(state)) throw new Error('requestState was not verified by the adapter');
          return scope.opened.get(state);
        },
      },
    },
    requestState: {
      mint(payload) {
        if (payload === undefined) throw new TypeError('requestState.mint: the payload must be a JSON value, not undefined');
        return codec.mint(payload, { principal: scope.principal, audience, request: scope.request });
      },
    },
    state: {
      put: (value, putOptions) => stateStore.put(scope.principal, value, putOptions),
      get: (handle) => stateStore.get(scope.principal, handle, scope.ip === undefined ? {} : { ip: scope.ip }),
      delete: (handle) => stateStore.delete(scope.principal, handle),
    },
    getCredential: (email) => requireCredential({ vault, auditor }, subjectOf(scope), email),
    async storeCredential(email, credential) {
      authorizeCredentialAccess(auditor, subjectOf(scope), email, 'write');
      await vault.set(scope.principal, normalizeEmail(email as string), credential);
      auditor.emit('credential_stored', { sessionId: scope.id, principal: scope.principal, detail: { email: normalizeEmail(email as string) } });
    },
  };
}
