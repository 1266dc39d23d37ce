import type { Request, RequestHandler } from 'express';
import type { Auditor } from '../audit/index.js';
import { McpGuardError } from './errors.js';
import { sendMcpError } from './http.js';

/**
 * JSON-RPC messages one batch may carry. SDK 1.32 caps batches at 100; 1.26 (inside the
 * declared peer range) does not cap them at all. The default value is `20`.
 */
export const DEFAULT_MAX_BATCH_SIZE = 20;
/** The first protocol revision without JSON-RPC batching: from it on, a batch is refused. */
export const FIRST_REVISION_WITHOUT_BATCHES = '2025-06-18';

const counts = new WeakMap<Request, number>();

/**
 * How many JSON-RPC messages the request carries (1 for a GET or DELETE, or a single message):
 * what rate limits charge, so one HTTP request with 100 tool calls costs 100.
 */
export function messageCount(req: Request): number {
  return counts.get(req) ?? 1;
}

export interface BatchPolicyOptions {
  /** The default value is `20`. */
  maxBatchSize?: number;
  auditor: Auditor;
}

/**
 * Runs after the body is parsed. Counts the request's JSON-RPC messages for the rate limits,
 * refuses batches under protocol revisions that removed them (2025-06-18 and later, by the
 * `MCP-Protocol-Version` header), and caps the size of a batch under older revisions.
 *
 * @example
 * router.post('/mcp', mcpJsonBody(), mcpBatchPolicy({ maxBatchSize: 20, auditor }));
 */
export function mcpBatchPolicy(options: BatchPolicyOptions): RequestHandler {
  const max = options.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE;
  if (!Number.isInteger(max) || max < 1) {
    throw new TypeError(`createMcpSessionGuard: \`maxBatchSize\` must be a whole number ≥ 1; got ${JSON.stringify(options.maxBatchSize)}`);
  }
  const { auditor } = options;
  return function mcpBatchPolicyMiddleware(req, res, next) {
    const body: unknown = req.body;
    if (!Array.isArray(body)) return next();
    counts.set(req, Math.max(1, body.length));
    const revision = req.headers['mcp-protocol-version'];
    if (typeof revision === 'string' && revision >= FIRST_REVISION_WITHOUT_BATCHES) {
      auditor.emit('batch_rejected', { ip: req.ip, reason: 'revision_without_batches', detail: { revision: revision.slice(0, 20), messages: body.length } });
      return sendMcpError(res, new McpGuardError('BATCH_REJECTED', `Bad Request: protocol revision ${revision.slice(0, 20)} has no JSON-RPC batches; send one message per request.`));
    }
    if (body.length > max) {
      auditor.emit('batch_rejected', { ip: req.ip, reason: 'too_large', detail: { messages: body.length, limit: max } });
      return sendMcpError(res, new McpGuardError('BATCH_REJECTED', `Bad Request: a batch may carry at most ${max} messages.`));
    }
    next();
  };
}

/**
 * For endpoints that serve only revisions without JSON-RPC batches (2026-07-28): any batch is
 * an invalid request, refused and audited before it could carry anything past the later checks.
 *
 * @example
 * router.post('/mcp', mcpJsonBody(), mcpRefuseBatches({ auditor }));
 */
export function mcpRefuseBatches(options: { auditor: Auditor; revision: string }): RequestHandler {
  const { auditor, revision } = options;
  return function mcpRefuseBatchesMiddleware(req, res, next) {
    const body: unknown = req.body;
    if (!Array.isArray(body)) return next();
    auditor.emit('batch_rejected', { ip: req.ip, reason: 'revision_without_batches', detail: { revision, messages: body.length } });
    sendMcpError(res, new McpGuardError('INVALID_REQUEST', `Invalid Request: JSON-RPC batches are not part of the ${revision} revision.`));
  };
}
