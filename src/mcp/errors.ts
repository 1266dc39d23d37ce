/**
 * Errors of the MCP adapter. They are the core's typed error (`SessionGuardError`), whose status
 * comes from the one code → status table (`ERROR_STATUS`), answered as JSON-RPC error bodies
 * (`{ jsonrpc: '2.0', error: { code, message }, id: null }`); tool handlers see them as thrown
 * errors, which the SDK turns into `isError` tool results.
 */
import type { AuditEventType } from '../audit/index.js';
import { ERROR_STATUS, MCP_ERROR_STATUS, SessionGuardError } from '../errors/index.js';

/** The codes the MCP adapter raises: its own, and the core's `SESSION_LIMIT_REACHED` (same meaning, same status). */
export type McpGuardErrorCode = keyof typeof MCP_ERROR_STATUS | 'SESSION_LIMIT_REACHED';

/** JSON-RPC codes, aligned with the SDK's transport (-32001 is its "Session not found"). */
export const JSON_RPC_PARSE_ERROR = -32700;
export const JSON_RPC_INVALID_REQUEST = -32600;
export const JSON_RPC_INVALID_PARAMS = -32602;
export const JSON_RPC_SERVER_ERROR = -32000;
export const JSON_RPC_SESSION_NOT_FOUND = -32001;
export const JSON_RPC_INTERNAL_ERROR = -32603;

/** The JSON-RPC code a code is answered with: the protocol's own where there is one, else a server error. */
function jsonRpcCodeOf(code: McpGuardErrorCode, status: number): number {
  if (code === 'PARSE_ERROR') return JSON_RPC_PARSE_ERROR;
  if (code === 'INVALID_REQUEST') return JSON_RPC_INVALID_REQUEST;
  if (code === 'SESSION_NOT_FOUND') return JSON_RPC_SESSION_NOT_FOUND;
  return status >= 500 ? JSON_RPC_INTERNAL_ERROR : JSON_RPC_SERVER_ERROR;
}

export interface McpGuardErrorOptions {
  cause?: unknown;
  /** @deprecated The JSON-RPC code follows from `code`; kept for callers of the 0.1 constructor. */
  jsonRpcCode?: number;
}

/**
 * A typed MCP adapter error: `code` for programs, `status` for HTTP (from the shared
 * `ERROR_STATUS` table), `jsonRpcCode` for the body. It is a `SessionGuardError`, so one
 * `instanceof SessionGuardError` catches the errors of every part of fixation-guard.
 *
 * @example
 * if (err instanceof McpGuardError && err.code === 'SESSION_LIMIT_REACHED') showTooManySessions();
 * throw new McpGuardError('SESSION_OWNER_MISMATCH', 'Forbidden: unknown tenant.'); // 403, from the table
 */
export class McpGuardError extends SessionGuardError {
  declare readonly code: McpGuardErrorCode;
  readonly jsonRpcCode: number;

  constructor(code: McpGuardErrorCode, message: string, options?: McpGuardErrorOptions);
  /** @deprecated The status follows from `code`: write `new McpGuardError(code, message)`. */
  constructor(code: McpGuardErrorCode, status: number, message: string, options?: McpGuardErrorOptions);
  constructor(code: McpGuardErrorCode, statusOrMessage: number | string, messageOrOptions?: string | McpGuardErrorOptions, legacyOptions?: McpGuardErrorOptions) {
    const legacy = typeof statusOrMessage === 'number';
    const message = legacy ? (messageOrOptions as string) : statusOrMessage;
    const options = legacy ? legacyOptions : (messageOrOptions as McpGuardErrorOptions | undefined);
    if (!Object.prototype.hasOwnProperty.call(MCP_ERROR_STATUS, code) && code !== 'SESSION_LIMIT_REACHED') {
      throw new TypeError(`McpGuardError: unknown code ${JSON.stringify(code)}; use one of ${Object.keys(MCP_ERROR_STATUS).join(', ')}`);
    }
    if (legacy && statusOrMessage !== ERROR_STATUS[code]) {
      // One code, one status: a second status for a code would give it a second meaning.
      throw new TypeError(`McpGuardError: ${code} is answered with ${ERROR_STATUS[code]}, not ${statusOrMessage}; write new McpGuardError(${JSON.stringify(code)}, message)`);
    }
    super(code, message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.jsonRpcCode = options?.jsonRpcCode ?? jsonRpcCodeOf(code, this.status);
  }

  /** The JSON-RPC error body answered for this error. */
  override toJSON(): JsonRpcErrorBody {
    return jsonRpcErrorBody(this.jsonRpcCode, this.message);
  }
}

/**
 * A session asked for a credential outside its ACL (the emails it was authorized for).
 *
 * @example
 * try { await session.getCredential(email); } catch (err) { if (err instanceof PermissionError) … }
 */
export class PermissionError extends McpGuardError {
  constructor(message = 'Permission denied: this session is not authorized for that account.') {
    super('PERMISSION_DENIED', message);
  }
}

export interface JsonRpcErrorBody {
  jsonrpc: '2.0';
  error: { code: number; message: string };
  id: null;
}

/**
 * Builds `{ jsonrpc: '2.0', error: { code, message }, id: null }`.
 *
 * @example
 * res.status(404).json(jsonRpcErrorBody(-32001, 'Session not found'));
 */
export function jsonRpcErrorBody(code: number, message: string): JsonRpcErrorBody {
  return { jsonrpc: '2.0', error: { code, message }, id: null };
}

/**
 * Why a check refused a request: the error answered, and what is audited (an event and a
 * reason) when the check itself did not audit it. The pieces of the request pipeline return
 * refusals; only the middleware answers them.
 */
export interface McpRefusal {
  error: McpGuardError;
  event?: AuditEventType;
  reason?: string;
  /** Extra response headers (`Retry-After`). */
  headers?: Readonly<Record<string, string>>;
}

/** A refusal of `error`, audited as `event` with `reason` when given. */
export function refusal(error: McpGuardError, event?: AuditEventType, reason?: string): McpRefusal {
  return { error, ...(event ? { event } : {}), ...(reason ? { reason } : {}) };
}

/** The one answer for an unknown, expired or revoked session id (and for a session that ended meanwhile). */
export function sessionNotFound(): McpGuardError {
  return new McpGuardError('SESSION_NOT_FOUND', 'Session not found');
}

/**
 * The OAuth error code (`invalid_token`, `server_error`, …) a verifier's error carries, from
 * either SDK line or another copy of one (where `instanceof` fails): 1.x errors have
 * `errorCode`, 2.x errors `code`. Undefined for any other error (a JWT library's own).
 */
export function oauthErrorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { errorCode, code } = err as { errorCode?: unknown; code?: unknown };
  const found = typeof errorCode === 'string' ? errorCode : code;
  return typeof found === 'string' && OAUTH_ERROR_CODES.has(found) ? found : undefined;
}

/** The error codes of OAuth 2.0 (RFC 6749, 6750, 7591, 8707) the SDK lines throw. */
const OAUTH_ERROR_CODES: ReadonlySet<string> = new Set([
  'invalid_request', 'invalid_client', 'invalid_grant', 'unauthorized_client', 'unsupported_grant_type', 'invalid_scope',
  'access_denied', 'server_error', 'temporarily_unavailable', 'unsupported_response_type', 'unsupported_token_type',
  'invalid_token', 'method_not_allowed', 'too_many_requests', 'invalid_client_metadata', 'insufficient_scope', 'invalid_target',
]);

/**
 * What a token the verifier could not verify is answered with: never the verifier's own message
 * (a JWT library's, another SDK copy's), which may name internals.
 */
export function unverifiedTokenMessage(code: string | undefined): string {
  return code === undefined ? 'The access token could not be verified.' : `The access token could not be verified (${code}).`;
}
