/**
 * The last step of the sessionful pipeline: hands a checked request to its session's transport,
 * as what it proved. The proof is re-checked here (the session may have been authorized again
 * while the request waited) and travels with the request, so its handlers act as that only.
 */
import type { RequestHandler } from 'express';
import type { SessionChannels } from './channels.js';
import { McpGuardError, sessionNotFound } from './errors.js';
import { ownsEventId } from './event-store.js';
import { sendMcpError } from './http.js';
import type { SessionLifecycle } from './lifecycle.js';
import type { RequestProof } from './session-record.js';
import { sessionBindingOf } from './session-binding.js';

/**
 * @example
 * router.all('/mcp', mcpSessionBinding(context), mcpSessionDispatch({ channels, lifecycle }));
 */
export function mcpSessionDispatch(options: { channels: SessionChannels; lifecycle: SessionLifecycle; resumable?: boolean }): RequestHandler {
  const { channels, lifecycle, resumable = false } = options;
  return async function mcpSessionDispatchMiddleware(req, res, next) {
    const binding = sessionBindingOf(req);
    if (binding === undefined) return next(new McpGuardError('INTERNAL_ERROR', 'Request reached the MCP dispatch without a session binding'));
    const { record, proved } = binding;
    // Nothing may await between this check and `handleRequest`, which opens a GET stream synchronously.
    const transport = record.transport;
    if (!transport || record.retired) return sendMcpError(res, sessionNotFound());
    if (proved.generation !== record.generation || proved.principal !== record.principal) {
      lifecycle.audit('session_token_mismatch', record, { ip: req.ip, reason: 'request_superseded' });
      return sendMcpError(res, new McpGuardError('INVALID_SESSION_TOKEN', 'Unauthorized: the session was authorized again while this request waited; send the current session token.'));
    }
    const lastEventId = resumable && req.method === 'GET' ? req.get('last-event-id') : undefined;
    if (lastEventId !== undefined && !ownsEventId(record, lastEventId)) {
      // Another session's event id (or one from before this session was authorized again) would replay its messages here.
      lifecycle.audit('session_token_mismatch', record, { ip: req.ip, reason: 'foreign_event_id' });
      return sendMcpError(res, new McpGuardError('INVALID_REQUEST', 'Bad Request: Last-Event-ID was not issued to this session'));
    }
    const proof: RequestProof = { record, principal: proved.principal, generation: proved.generation, requestIds: new Set() };
    record.requests.add(proof);
    res.once('close', function forgetRequest() {
      record.requests.delete(proof);
    });
    // GET opens the long-lived notification stream; only requests that finish hold a session open.
    if (req.method !== 'GET') {
      record.inflight += 1;
      res.once('close', function releaseSession() {
        record.inflight -= 1;
        if (record.retired && record.inflight === 0) lifecycle.close(record);
      });
    }
    try {
      await channels.run(proof, () => transport.handleRequest(req, res, req.body));
    } catch (err) {
      next(err);
    }
  };
}
