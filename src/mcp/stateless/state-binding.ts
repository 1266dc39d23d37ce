/**
 * Request-state binding for the 2026-07-28 era: the per-request scope (who, which originating
 * request) and the echoed `requestState`, opened by the sealed codec before the SDK sees the
 * request: bound to principal, audience and originating request, expiring, optionally single
 * use. A refused state gets one frozen answer; the reason is audited by the codec.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { AuthInfo } from '@modelcontextprotocol/server';
import { JSON_RPC_INVALID_PARAMS, McpGuardError } from '../errors.js';
import { normalizeEmail } from '../vault.js';
import { statelessIdentityOf } from './bearer.js';
import type { SealedRequestStateCodec } from './codec.js';

/** The one answer a client gets for any refused `requestState`: the SDK's own frozen wording. */
export const REQUEST_STATE_ERROR_MESSAGE = 'Invalid or expired requestState';

/** What one HTTP request proved, for the factory and the `requestState` hook of its server. */
export interface RequestScope {
  id: string;
  principal: string;
  authInfo: AuthInfo;
  emails: Set<string>;
  /** The originating request a state is bound to (see `requestKey`). */
  request: string;
  ip: string | undefined;
  /** The states the adapter opened for this request, by their text. */
  opened: Map<string, unknown>;
}

interface JsonRpcBody {
  id?: unknown;
  method?: unknown;
  params?: Record<string, unknown>;
}

/** JSON with sorted keys, so the same arguments hash the same whatever order a client writes them in. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * The originating request a state is bound to: the method, what it names (tool, prompt,
 * resource) and a hash of its arguments, so a state cannot be carried to another call or
 * replayed with other arguments (a confirmed transfer of 5 retried as 500).
 */
export function requestKey(body: JsonRpcBody): string {
  const params = body.params ?? {};
  const target = typeof params.name === 'string' ? params.name : typeof params.uri === 'string' ? params.uri : '';
  const args = createHash('sha256').update(canonicalJson(params.arguments ?? null)).digest('base64url');
  return `${typeof body.method === 'string' ? body.method : ''}\0${target}\0${args}`;
}

const scopes = new WeakMap<Request, RequestScope>();

/** The scope of a request that passed `mcpRequestStateBinding`. */
export function requestScopeOf(req: Request): RequestScope | undefined {
  return scopes.get(req);
}

/**
 * Runs after the identity middleware (and the batch refusal: one message per request).
 *
 * @example
 * router.all('/mcp', mcpStatelessIdentity(bearer), mcpRequestStateBinding({ codec, audience }));
 */
export function mcpRequestStateBinding(options: { codec: SealedRequestStateCodec; audience: string }): RequestHandler {
  const { codec, audience } = options;
  return async function mcpRequestStateBindingMiddleware(req, res, next) {
    try {
      const identity = statelessIdentityOf(req);
      if (identity === undefined) return next(new McpGuardError('INTERNAL_ERROR', 'Request reached the request-state binding without an identity'));
      const body: unknown = req.body;
      const message: JsonRpcBody = typeof body === 'object' && body !== null ? (body as JsonRpcBody) : {};
      const ip = req.ip;
      const scope: RequestScope = {
        id: randomUUID(),
        principal: identity.principal,
        authInfo: identity.authInfo,
        emails: new Set(identity.emails.map((email) => normalizeEmail(email))),
        request: requestKey(message),
        ip,
        opened: new Map(),
      };
      const params = message.params;
      if (params !== undefined && typeof params === 'object' && params !== null && 'requestState' in params) {
        const opened = await codec.open(params.requestState, { principal: scope.principal, audience, request: scope.request }, ip === undefined ? {} : { ip });
        if (!opened.ok) {
          // One frozen answer for every reason; the reason is in the audit log only.
          res.status(200).json({ jsonrpc: '2.0', id: message.id ?? null, error: { code: JSON_RPC_INVALID_PARAMS, message: REQUEST_STATE_ERROR_MESSAGE, data: { reason: 'invalid_request_state' } } });
          return;
        }
        scope.opened.set(params.requestState as string, opened.payload);
      }
      scopes.set(req, scope);
      next();
    } catch (err) {
      next(err);
    }
  };
}
