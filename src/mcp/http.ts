import express, { type ErrorRequestHandler, type RequestHandler, type Response } from 'express';
import type { Auditor } from '../audit/index.js';
import { McpGuardError, jsonRpcErrorBody, type McpRefusal } from './errors.js';

export const DEFAULT_MAX_BODY_SIZE = '1mb';

/**
 * Answers an adapter error as a JSON-RPC error body with its HTTP status (and extra headers).
 * Does nothing once headers are out: a stream already answering keeps its own status.
 */
export function sendMcpError(res: Response, error: McpGuardError, headers: Readonly<Record<string, string>> = {}): void {
  if (res.headersSent) return;
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.status(error.status).json(jsonRpcErrorBody(error.jsonRpcCode, error.message));
}

/**
 * Answers a refusal of the request pipeline: audits it (its event and reason, with the request's
 * IP and what else `fields` names) when it carries an event, then answers its error.
 */
export function sendMcpRefusal(res: Response, refused: McpRefusal, auditor: Auditor, fields: { ip?: string | undefined; sessionId?: string | undefined; principal?: string | undefined } = {}): void {
  if (refused.event) auditor.emit(refused.event, { ...fields, ...(refused.reason ? { reason: refused.reason } : {}) });
  sendMcpError(res, refused.error, refused.headers);
}

/** The methods of a Streamable HTTP endpoint. */
export const MCP_METHODS: readonly string[] = Object.freeze(['GET', 'POST', 'DELETE']);

/**
 * Answers any other method with 405 and `Allow`, before any session work.
 *
 * @example
 * router.all('/mcp', mcpAllowedMethods());
 */
export function mcpAllowedMethods(): RequestHandler {
  return function mcpAllowedMethodsMiddleware(req, res, next) {
    if (MCP_METHODS.includes(req.method)) return next();
    res.setHeader('Allow', MCP_METHODS.join(', '));
    sendMcpError(res, new McpGuardError('METHOD_NOT_ALLOWED', 'Method not allowed.'));
  };
}

/**
 * Maps what the body parser (body-parser, through `express.json`) reports to an adapter error.
 * Every one of these is the client's fault: a 4xx with a fixed message, never the parser's own
 * text (which names zlib codes and internals) and never a 500.
 */
export function bodyParserError(err: unknown): McpGuardError | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { type, status, code } = err as { type?: unknown; status?: unknown; code?: unknown };
  if (type === 'entity.parse.failed') return new McpGuardError('PARSE_ERROR', 'Parse error');
  if (type === 'entity.too.large') return new McpGuardError('PAYLOAD_TOO_LARGE', 'Payload too large');
  if (type === 'encoding.unsupported') return new McpGuardError('UNSUPPORTED_ENCODING', 'Unsupported Media Type: use Content-Encoding identity, gzip, deflate or br.');
  if (type === 'charset.unsupported') return new McpGuardError('UNSUPPORTED_ENCODING', 'Unsupported Media Type: the body must be UTF-8 JSON.');
  // A corrupt gzip/deflate/br body: zlib's error, which the parser passes on with status 400.
  if (typeof code === 'string' && code.startsWith('Z_')) return new McpGuardError('BODY_UNREADABLE', 'Bad Request: the compressed body could not be decoded.');
  // Any other client-side failure of the parser (an aborted upload, a wrong length): one 400.
  if (typeof type === 'string' && typeof status === 'number' && status >= 400 && status < 500) {
    return new McpGuardError('BODY_UNREADABLE', 'Bad Request: the body could not be read.');
  }
  return undefined;
}

/**
 * How deeply a request body's arrays and objects may nest. `JSON.parse` takes any depth; the
 * code after it (the SDK's era routing, the guard's hash of a call's arguments) walks the value
 * recursively, and a body of 400 kB of nested arrays overflowed the stack there (a 500 to a
 * request without any token). MCP messages nest a few levels; tool arguments a few more.
 */
const MAX_JSON_DEPTH = 64;

/** Whether `value` nests arrays and objects deeper than `max` (iteratively: never the stack). */
function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const [node, depth] = item;
    if (typeof node !== 'object' || node === null) continue;
    if (depth >= max) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

/**
 * The endpoint's JSON body parser: at most `limit` bytes, nested at most `MAX_JSON_DEPTH` levels
 * (a deeper body is a 400 `INVALID_REQUEST` before anything walks it).
 *
 * @example
 * router.all('/mcp', mcpJsonBody({ limit: '1mb' }));
 */
export function mcpJsonBody(options: { limit?: string | number } = {}): RequestHandler {
  const parse = express.json({ limit: options.limit ?? DEFAULT_MAX_BODY_SIZE });
  return function mcpJsonBodyMiddleware(req, res, next) {
    parse(req, res, (err?: unknown) => {
      if (err) return next(err);
      if (nestsDeeperThan(req.body, MAX_JSON_DEPTH)) {
        return sendMcpError(res, new McpGuardError('INVALID_REQUEST', `Invalid Request: the body nests deeper than ${MAX_JSON_DEPTH} levels.`));
      }
      next();
    });
  };
}

/**
 * The endpoint's last error handler: adapter errors and body errors are answered as JSON-RPC
 * error bodies with their status; anything else is a 500 whose body names nothing internal
 * (the message goes to a process warning, for the operator).
 *
 * @example
 * router.use('/mcp', mcpErrorHandler());
 */
export function mcpErrorHandler(): ErrorRequestHandler {
  return function mcpErrorHandlerMiddleware(err, _req, res, next) {
    if (res.headersSent) return next(err);
    // An internal error's message is for the operator (a wiring bug), never for the client.
    if (err instanceof McpGuardError && err.code !== 'INTERNAL_ERROR') return sendMcpError(res, err);
    const mapped = bodyParserError(err);
    if (mapped) return sendMcpError(res, mapped);
    process.emitWarning(`fixation-guard/mcp: request failed: ${(err as Error)?.message ?? String(err)}`);
    return sendMcpError(res, new McpGuardError('INTERNAL_ERROR', 'Internal server error'));
  };
}
