/**
 * Identity for the sessionful era: `Authorization: Bearer` verified by the SDK 1.x's own
 * `requireBearerAuth` (401 / 403 with `WWW-Authenticate` as the SDK answers them), then the
 * user the token stands for (`identityFromAuthInfo`: the subject or the app's `principal`, never
 * the OAuth client id). What it proved is kept for the request's session binding.
 */
import type { Request, RequestHandler } from 'express';
import { CustomOAuthError, InsufficientScopeError, InvalidTokenError, OAuthError, ServerError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { Auditor } from '../audit/index.js';
import { McpGuardError, oauthErrorCode, unverifiedTokenMessage } from './errors.js';
import { sendMcpRefusal } from './http.js';
import { bearerIdentityRefusal, identityFromAuthInfo, type BearerIdentity, type IdentityOptions } from './identity.js';
import type { McpBearerOptions } from './options.js';

const identities = new WeakMap<Request, BearerIdentity>();

/** The identity a verified bearer token gave this request, or `undefined` (no bearer, or none configured). */
export function bearerIdentityOf(req: Request): BearerIdentity | undefined {
  return identities.get(req);
}

/**
 * Verifies a bearer token when the request carries one (or always, when `required` is not
 * `false`); a request the SDK refused is audited `invalid_token_signature` (`bearer_rejected`),
 * a verified token without a user `bearer_identity_rejected`.
 *
 * @example
 * router.all('/mcp', mcpBearerIdentity({ bearer: { verifier }, auditor }));
 * // later, in the same request: bearerIdentityOf(req) → { principal: 'user-1', emails: [] }
 */
export function mcpBearerIdentity(options: { bearer: McpBearerOptions; auditor: Auditor }): RequestHandler {
  const { bearer, auditor } = options;
  const verify = requireBearerAuth({
    verifier: refusingUnverifiable(bearer.verifier),
    ...(bearer.requiredScopes ? { requiredScopes: bearer.requiredScopes } : {}),
    ...(bearer.resourceMetadataUrl ? { resourceMetadataUrl: bearer.resourceMetadataUrl } : {}),
    ...(bearer.expectedResource ? { expectedResource: bearer.expectedResource } : {}),
  });
  const required = bearer.required !== false;
  const identityOptions: IdentityOptions<AuthInfo> = {
    ...(bearer.principal ? { principal: bearer.principal } : {}),
    ...(bearer.emails ? { emails: bearer.emails } : {}),
  };

  return function mcpBearerIdentityMiddleware(req, res, next) {
    const header = req.headers.authorization;
    const hasBearer = typeof header === 'string' && /^Bearer\s/i.test(header);
    if (!hasBearer && !required) return next();
    let verified = false;
    res.once('finish', function bearerAnswered() {
      // The SDK answered the request itself: the token was missing, invalid or lacked a scope.
      if (!verified) auditor.emit('invalid_token_signature', { ip: req.ip, reason: 'bearer_rejected', detail: { status: res.statusCode } });
    });
    verify(req, res, function bearerVerified(err?: unknown) {
      verified = true;
      if (err) return next(err);
      const authInfo = (req as Request & { auth?: AuthInfo }).auth;
      if (authInfo === undefined) return next();
      try {
        identities.set(req, identityFromAuthInfo(authInfo, identityOptions));
      } catch (refused) {
        if (!(refused instanceof McpGuardError)) return next(refused);
        // A verified token that names no user: the client id is not a user, so nothing is served.
        return sendMcpRefusal(res, bearerIdentityRefusal(refused), auditor, { ip: req.ip });
      }
      next();
    });
  };
}

/**
 * The app's verifier, with any error that is not an OAuth error (a JWT library's own error on a
 * garbage token) thrown as `InvalidTokenError`: the SDK answers that 401, where it answers any
 * other error 500. An OAuth error of another SDK copy or line is thrown as this copy's class
 * of its code, with a message of ours, so that it keeps its status: an outage is the verifier's
 * to say (`server_error`, answered 500).
 */
function refusingUnverifiable(verifier: McpBearerOptions['verifier']): McpBearerOptions['verifier'] {
  return {
    ...verifier,
    async verifyAccessToken(token: string): Promise<AuthInfo> {
      try {
        return await verifier.verifyAccessToken(token);
      } catch (err) {
        if (err instanceof OAuthError) throw err;
        const code = oauthErrorCode(err);
        const message = unverifiedTokenMessage(code);
        if (code === 'insufficient_scope') throw new InsufficientScopeError(message);
        if (code === 'server_error') throw new ServerError(message);
        if (code !== undefined && code !== 'invalid_token') throw new CustomOAuthError(code, message);
        throw new InvalidTokenError(message);
      }
    },
  };
}
