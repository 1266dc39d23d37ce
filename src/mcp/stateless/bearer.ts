import type { Request, Response } from 'express';
import { bearerAuthChallengeResponse, OAuthError, verifyBearerToken, type AuthInfo, type OAuthTokenVerifier } from '@modelcontextprotocol/server';
import type { Auditor } from '../../audit/index.js';

/** Bearer verification for 2026-07-28 traffic, as the SDK does it (RFC 6750 + RFC 9728). */
export interface StatelessBearerOptions {
  /** Verifies an access token (JWT validation, RFC 7662 introspection, …) and returns its `AuthInfo`. */
  verifier: OAuthTokenVerifier;
  /** Scopes every token must have; a token without them gets `403 insufficient_scope`. */
  requiredScopes?: string[];
  /** Accept only tokens issued for this resource (RFC 8707); the verifier fills `AuthInfo.resource`. */
  expectedResource?: URL;
  /**
   * The principal a token stands for. Requests are refused (401) when it answers nothing: a
   * principal is a user, never the OAuth client id many users share. The default value reads
   * `authInfo.extra.sub` (with `authInfo.extra.iss` as `iss|sub` when present).
   */
  principal?: (authInfo: AuthInfo) => string | undefined;
  /** Accounts whose credentials the principal may use. The default value is `[]` (the app grants them). */
  emails?: (authInfo: AuthInfo) => readonly string[];
}

export type BearerOutcome = { ok: true; authInfo: AuthInfo; principal: string; emails: readonly string[] } | { ok: false };

function defaultPrincipal(authInfo: AuthInfo): string | undefined {
  const sub = authInfo.extra?.sub;
  if (typeof sub !== 'string' || sub.length === 0) return undefined;
  const iss = authInfo.extra?.iss;
  return typeof iss === 'string' && iss.length > 0 ? `${iss}|${sub}` : sub;
}

/** Copies a web `Response` (the SDK's challenge) onto an Express response. */
async function sendWebResponse(res: Response, answer: globalThis.Response): Promise<void> {
  res.status(answer.status);
  answer.headers.forEach((value, name) => res.setHeader(name, value));
  res.end(Buffer.from(await answer.arrayBuffer()));
}

/**
 * Verifies `Authorization: Bearer` with the SDK's `verifyBearerToken` and answers failures with
 * its `bearerAuthChallengeResponse` (401 + `WWW-Authenticate: Bearer …, resource_metadata="…"`),
 * then resolves the principal. Every refusal is audited as `mcp_bearer_rejected`.
 */
export function createBearerIdentity(options: StatelessBearerOptions & { resourceMetadataUrl: string; auditor: Auditor }) {
  if (typeof options.verifier?.verifyAccessToken !== 'function') {
    throw new TypeError('createMcpStatelessGuard: `bearer.verifier` must be an OAuthTokenVerifier ({ verifyAccessToken(token) })');
  }
  const resolvePrincipal = options.principal ?? defaultPrincipal;
  const resolveEmails = options.emails ?? (() => []);
  const verifyOptions = {
    verifier: options.verifier,
    resourceMetadataUrl: options.resourceMetadataUrl,
    ...(options.requiredScopes ? { requiredScopes: options.requiredScopes } : {}),
    ...(options.expectedResource ? { expectedResource: options.expectedResource } : {}),
  };

  return async function identifyBearer(req: Request, res: Response): Promise<BearerOutcome> {
    const header = req.headers.authorization;
    let authInfo: AuthInfo;
    try {
      authInfo = await verifyBearerToken(header, verifyOptions);
    } catch (err) {
      const reason = header === undefined ? 'missing' : err instanceof OAuthError ? String(err.code) : 'verifier_error';
      options.auditor.emit('mcp_bearer_rejected', { ip: req.ip, reason });
      await sendWebResponse(res, bearerAuthChallengeResponse(err, verifyOptions));
      return { ok: false };
    }
    const principal = resolvePrincipal(authInfo);
    if (typeof principal !== 'string' || principal.length === 0) {
      // Fail closed: falling back to the client id would make every user of one client one user.
      options.auditor.emit('mcp_bearer_rejected', { ip: req.ip, reason: 'no_principal' });
      await sendWebResponse(res, bearerAuthChallengeResponse(new OAuthError('invalid_token', 'The token names no user (no subject).'), verifyOptions));
      return { ok: false };
    }
    return { ok: true, authInfo, principal, emails: resolveEmails(authInfo) };
  };
}
