import { McpGuardError, refusal, type McpRefusal } from './errors.js';

/**
 * What a verified bearer token says, as both SDK lines hand it over (`AuthInfo` of
 * `@modelcontextprotocol/sdk` 1.x and of `@modelcontextprotocol/server` 2.x): only the fields
 * identity is derived from, so either one can be passed.
 */
export interface VerifiedAuthInfo {
  /** The OAuth client (an application, shared by all its users): never an identity. */
  clientId: string;
  /** What the token verifier attached: `sub`, `iss`, `email`, `email_verified`, … */
  extra?: Record<string, unknown> | undefined;
}

/** How the app maps a verified token to a user, when `extra.sub` is not what it wants. */
export interface IdentityOptions<A extends VerifiedAuthInfo = VerifiedAuthInfo> {
  /**
   * The principal a token stands for (a user id). Return `undefined` to refuse the token.
   * The default value is `issuer|subject` from `extra.iss` / `extra.sub` (just the subject
   * without an issuer); there is no fallback to `clientId`.
   */
  principal?: (authInfo: A) => string | undefined;
  /**
   * The accounts (email addresses) the token may use credentials of. The default value is
   * `[extra.email]` when `extra.email_verified === true`, else none: an unverified email claim
   * is something anyone can write into their own profile, not an identity.
   */
  emails?: (authInfo: A) => readonly string[];
}

/** The identity a verified token stands for. */
export interface BearerIdentity {
  /** A user, never an OAuth client. */
  principal: string;
  /** The token's `iss`, when the verifier gave one. */
  issuer?: string;
  /** Verified accounts only. */
  emails: string[];
}

/** Longest principal accepted: it ends up in index keys and audit events. */
export const MAX_PRINCIPAL_LENGTH = 512;

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim().length > 0 ? value : undefined;
}

/**
 * Whether a token with subject `sub` is the client's own (the client credentials grant), by what
 * the token says:
 * - its subject names the client (RFC 9068 §2.2): the `azp` or `client_id` claim, or Auth0's
 *   `<client id>@clients`; only without either claim, the verifier's `clientId` (some verifiers
 *   copy the user's `sub` into `clientId`, and the claims are what the issuer wrote);
 * - it says the grant or an app identity: `gty: 'client-credentials'` (Auth0),
 *   `grant_type: 'client_credentials'`, `idtyp: 'app'` (Microsoft Entra ID), or a
 *   `preferred_username` of Keycloak's `service-account-…` users.
 */
function namesTheClient(authInfo: VerifiedAuthInfo, sub: string): boolean {
  const extra = authInfo.extra ?? {};
  const claimed = [text(extra.azp), text(extra.client_id)].filter((id): id is string => id !== undefined);
  const clients = claimed.length > 0 ? claimed : [authInfo.clientId];
  if (clients.some((id) => sub === id || sub === `${id}@clients`)) return true;
  const username = text(extra.preferred_username);
  return extra.gty === 'client-credentials' || extra.grant_type === 'client_credentials' || extra.idtyp === 'app' || (username !== undefined && username.startsWith('service-account-'));
}

/**
 * The default principal: `issuer|subject`, or the subject alone; `undefined` without a subject,
 * and for a token of the client credentials grant (`namesTheClient`): it stands for no user. An
 * app whose service accounts are users says so in its own `principal`.
 */
export function defaultPrincipal(authInfo: VerifiedAuthInfo): string | undefined {
  const sub = text(authInfo.extra?.sub);
  if (sub === undefined || namesTheClient(authInfo, sub)) return undefined;
  const iss = text(authInfo.extra?.iss);
  return iss === undefined ? sub : `${iss}|${sub}`;
}

/** The default accounts: the token's email only when the issuer vouched for it (`email_verified === true`). */
export function verifiedEmails(authInfo: VerifiedAuthInfo): string[] {
  const email = text(authInfo.extra?.email);
  return email !== undefined && authInfo.extra?.email_verified === true ? [email] : [];
}

/**
 * Derives the user a verified bearer token stands for, or refuses it. This is the only place
 * an MCP principal comes from a token:
 *
 * - the app's `principal(authInfo)` when given, else `extra.sub` (qualified by `extra.iss`),
 *   unless the subject is the client id (a client credentials token: no user);
 * - never the OAuth `clientId`: many users share one client, and falling back to it would make
 *   them one user (one's stolen session id readable with another's token, one's limits
 *   evicting the other's sessions);
 * - without one, a `McpGuardError` `BEARER_PRINCIPAL_MISSING` (403): fail closed;
 * - emails from the app's `emails(authInfo)`, else only a verified `email` claim.
 *
 * @example
 * const identity = identityFromAuthInfo(req.auth, { principal: (info) => lookupUser(info.extra?.oid) });
 * // { principal: 'user-42', emails: [] }
 */
export function identityFromAuthInfo<A extends VerifiedAuthInfo>(authInfo: A, options: IdentityOptions<A> = {}): BearerIdentity {
  if (typeof authInfo !== 'object' || authInfo === null) throw missingPrincipal();
  let principal: string | undefined;
  try {
    principal = options.principal ? options.principal(authInfo) : defaultPrincipal(authInfo);
  } catch (err) {
    // An app that refuses a token by throwing its own McpGuardError keeps its status and code.
    if (err instanceof McpGuardError) throw err;
    throw missingPrincipal(err);
  }
  if (typeof principal !== 'string' || principal.trim().length === 0 || principal.length > MAX_PRINCIPAL_LENGTH) throw missingPrincipal();
  const issuer = text(authInfo.extra?.iss);
  const emails = options.emails ? options.emails(authInfo) : verifiedEmails(authInfo);
  if (!Array.isArray(emails) || !emails.every((email) => typeof email === 'string' && email.includes('@'))) {
    throw new TypeError('identityFromAuthInfo: `emails(authInfo)` must return an array of email addresses');
  }
  return { principal, ...(issuer === undefined ? {} : { issuer }), emails: [...emails] };
}

function missingPrincipal(cause?: unknown): McpGuardError {
  return new McpGuardError(
    'BEARER_PRINCIPAL_MISSING',
    'Forbidden: the access token does not identify a user (no subject, or the client as its subject); the server needs a user, not only a client.',
    cause === undefined ? undefined : { cause },
  );
}

/**
 * How a bearer token the app's rules refused is answered and audited, in both eras: the error
 * (`BEARER_PRINCIPAL_MISSING` 403, or the app's own `McpGuardError`), as `bearer_identity_rejected`.
 *
 * @example
 * const refused = bearerIdentityRefusal(err); // { error, event: 'bearer_identity_rejected', reason: 'no_subject' }
 */
export function bearerIdentityRefusal(err: McpGuardError): McpRefusal {
  return refusal(err, 'bearer_identity_rejected', err.code === 'BEARER_PRINCIPAL_MISSING' ? 'no_subject' : 'app_refused');
}
