/**
 * Errors of the MCP adapter. Runtime failures are answered as JSON-RPC error bodies
 * (`{ jsonrpc: '2.0', error: { code, message }, id: null }`) with the HTTP status below;
 * tool handlers see them as thrown errors, which the SDK turns into `isError` tool results.
 */
export type McpGuardErrorCode =
  | 'ORIGIN_REJECTED'
  | 'HOST_REJECTED'
  | 'RATE_LIMITED'
  | 'BATCH_REJECTED'
  | 'SESSION_ID_REQUIRED'
  | 'SESSION_NOT_FOUND'
  | 'SESSION_TOKEN_REQUIRED'
  | 'INVALID_SESSION_TOKEN'
  | 'SESSION_TOKEN_EXPIRED'
  | 'SESSION_OWNER_MISMATCH'
  | 'BEARER_PRINCIPAL_MISSING'
  | 'FINGERPRINT_MISMATCH'
  | 'SESSION_LIMIT_REACHED'
  | 'SERVER_BUSY'
  | 'PERMISSION_DENIED'
  | 'CREDENTIAL_NOT_FOUND'
  | 'CREDENTIAL_STORE_UNAVAILABLE'
  | 'PARSE_ERROR'
  | 'UNSUPPORTED_ENCODING'
  | 'INTERNAL_ERROR';

/** JSON-RPC codes, aligned with the SDK's transport (-32001 is its "Session not found"). */
export const JSON_RPC_PARSE_ERROR = -32700;
export const JSON_RPC_SERVER_ERROR = -32000;
export const JSON_RPC_SESSION_NOT_FOUND = -32001;
export const JSON_RPC_INTERNAL_ERROR = -32603;

/**
 * A typed MCP adapter error: `code` for programs, `status` for HTTP, `jsonRpcCode` for the body.
 *
 * @example
 * if (err instanceof McpGuardError && err.code === 'SESSION_LIMIT_REACHED') showTooManySessions();
 */
export class McpGuardError extends Error {
  override readonly name: string;
  readonly code: McpGuardErrorCode;
  readonly status: number;
  readonly jsonRpcCode: number;

  constructor(code: McpGuardErrorCode, status: number, message: string, options?: { cause?: unknown; jsonRpcCode?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.jsonRpcCode =
      options?.jsonRpcCode ?? (status === 404 ? JSON_RPC_SESSION_NOT_FOUND : status >= 500 ? JSON_RPC_INTERNAL_ERROR : JSON_RPC_SERVER_ERROR);
  }

  /** The JSON-RPC error body answered for this error. */
  toJSON(): JsonRpcErrorBody {
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
    super('PERMISSION_DENIED', 403, message);
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
