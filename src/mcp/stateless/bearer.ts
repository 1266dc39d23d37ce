import type { Request, RequestHandler, Response } from 'express';
import { bearerAuthChallengeResponse, OAuthError, OAuthErrorCode, verifyBearerToken, type AuthInfo, type OAuthTokenVerifier } from '@modelcontextprotocol/server';
import type { Auditor } from '../../audit/index.js';
import { McpGuardError, oauthErrorCode, unverifiedTokenMessage } from '../errors.js';
import { sendMcpRefusal } from '../http.js';
import { bearerIdentityRefusal, identityFromAuthInfo, type IdentityOptions } from '../identity.js';

/** Bearer verification for 2026-07-28 traffic, as the SDK does it (RFC 6750 + RFC 9728). */
export interface StatelessBearerOptions extends IdentityOptions<AuthInfo> {
  /** Verifies an access token (JWT validation, RFC 7662 introspection, …) and returns its `AuthInfo`. */
  verifier: OAuthTokenVerifier;
  /** Scopes every token must have; a token without them gets `403 insufficient_scope`. */
  requiredScopes?: string[];
  /** Accept only tokens issued for this resource (RFC 8707); the verifier fills `AuthInfo.resource`. */
  expectedResource?: URL;
}

export type BearerOutcome = { ok: true; authInfo: AuthInfo; principal: string; emails: readonly string[] } | { ok: false };

/** Copies a web `Response` (the SDK's challenge) onto an Express response. */
async function sendWebResponse(res: Response, answer: globalThis.Response): Promise<void> {
  res.status(answer.status);
  answer.headers.forEach((value, name) => res.setHeader(name, value));
  res.end(Buffer.from(await answer.arrayBuffer()));
}

/**
 * Verifies `Authorization: Bearer` with the SDK's `verifyBearerToken` and answers failures with
 * its `bearerAuthChallengeResponse` (401 + `WWW-Authenticate: Bearer …, resource_metadata="…"`),
 * then derives the user with `identityFromAuthInfo` (the same rule as the sessionful era: `sub`
 * or the app's `principal`, never the client id; emails only from verified claims). Refusals are
 * audited as `mcp_bearer_rejected` or `bearer_identity_rejected`.
 */
export function createBearerIdentity(options: StatelessBearerOptions & { resourceMetadataUrl: string; auditor: Auditor }) {
  if (typeof options.verifier?.verifyAccessToken !== 'function') {
    throw new TypeError('createMcpStatelessGuard: `bearer.verifier` must be an OAuthTokenVerifier ({ verifyAccessToken(token) })');
  }
  const identityOptions: IdentityOptions<AuthInfo> = {
    ...(options.principal ? { principal: options.principal } : {}),
    ...(options.emails ? { emails: options.emails } : {}),
  };
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
      const code = oauthErrorCode(err);
      const reason = header === undefined ? 'missing' : (code ?? 'verifier_error');
      options.auditor.emit('mcp_bearer_rejected', { ip: req.ip, reason });
      // A verifier that throws its JWT library's own error on a garbage token: the token is
      // refused (401 invalid_token), not a server error; an outage is the verifier's to say
      // (an OAuth error with `server_error`, from either SDK line).
      const refusal = err instanceof OAuthError ? err : new OAuthError((code ?? OAuthErrorCode.InvalidToken) as OAuthErrorCode, unverifiedTokenMessage(code));
      await sendWebResponse(res, bearerAuthChallengeResponse(refusal, verifyOptions));
      return { ok: false };
    }
    try {
      const identity = identityFromAuthInfo(authInfo, identityOptions);
      return { ok: true, authInfo, principal: identity.principal, emails: identity.emails };
    } catch (err) {
      if (!(err instanceof McpGuardError)) throw err;
      // Fail closed: falling back to the client id would make every user of one client one user.
      sendMcpRefusal(res, bearerIdentityRefusal(err), options.auditor, { ip: req.ip });
      return { ok: false };
    }
  };
}

export type StatelessIdentity = Extract<BearerOutcome, { ok: true }>;

const identities = new WeakMap<Request, StatelessIdentity>();

/** The identity the request's bearer token proved, or `undefined` before (or without) `mcpStatelessIdentity`. */
export function statelessIdentityOf(req: Request): StatelessIdentity | undefined {
  return identities.get(req);
}

/**
 * The identity middleware of the 2026-07-28 era: every request carries a bearer token, verified
 * as the SDK does it, and stands for one user; a refused one is answered here.
 *
 * @example
 * router.all('/mcp', mcpStatelessIdentity({ verifier, resourceMetadataUrl, auditor }));
 */
export function mcpStatelessIdentity(options: StatelessBearerOptions & { resourceMetadataUrl: string; auditor: Auditor }): RequestHandler {
  const identify = createBearerIdentity(options);
  return async function mcpStatelessIdentityMiddleware(req, res, next) {
    try {
      const identity = await identify(req, res);
      if (!identity.ok) return;
      identities.set(req, identity);
      // What the SDK's handlers read as `ctx.authInfo`.
      (req as Request & { auth?: AuthInfo }).auth = identity.authInfo;
      next();
    } catch (err) {
      next(err);
    }
  };
}
