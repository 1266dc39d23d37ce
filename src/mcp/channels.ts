/**
 * The open channels of a session (requests being answered, the GET notification stream) and
 * what each one proved. A request acts as the identity and generation it was checked against:
 * when the session is authorized again or revoked, its older channels are cut at once, so none
 * carries the new owner's rights or traffic, nor outlives a revocation.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isJSONRPCRequest, type JSONRPCMessage, type RequestId } from '@modelcontextprotocol/sdk/types.js';
import { JSON_RPC_SERVER_ERROR } from './errors.js';
import type { RequestProof, SessionRecord } from './session-record.js';

export const REVOKED_REQUEST_MESSAGE = 'Request cancelled: the session was revoked; reconnect and authenticate again.';
export const SUPERSEDED_REQUEST_MESSAGE = 'Request cancelled: the session was authorized again while it ran; retry with the current session token.';

export interface SessionChannels {
  /** Runs `fn` (the transport handling a request) as `proof`: what its handlers may act as. */
  run<T>(proof: RequestProof, fn: () => T): T;
  /** The proof of the request whose handler is running (tool calls, and whatever they start). */
  current(): RequestProof | undefined;
  /** The running request's proof when it was made for an earlier authorization of `record`. */
  stale(record: SessionRecord): RequestProof | undefined;
  /**
   * Cancels the running JSON-RPC requests of the proofs `which` selects: as if the client had
   * cancelled each (the SDK aborts the handler and sends no result of its own), then answers it
   * with an error, which in SSE and JSON modes alike also ends its HTTP response.
   */
  cancel(record: SessionRecord, which: (proof: RequestProof) => boolean, message: string, reason: string): Promise<void>[];
  /**
   * Cuts every channel opened under an earlier authorization: requests still running are
   * cancelled and the GET stream is closed (server-initiated traffic of the new owner must not
   * reach an old listener). Returns how many requests were cancelled.
   */
  supersede(record: SessionRecord): number;
  /**
   * Sees every message the transport hands the session's server: records the JSON-RPC ids of
   * each request (to cancel them later) and answers, instead of running, a request whose proof
   * was superseded before the SDK got to it (`onSuperseded` audits it).
   */
  watch(record: SessionRecord, transport: StreamableHTTPServerTransport, onSuperseded: () => void): void;
}

function answerWithError(transport: StreamableHTTPServerTransport, id: RequestId, message: string): Promise<void> {
  return transport.send({ jsonrpc: '2.0', id, error: { code: JSON_RPC_SERVER_ERROR, message } }).catch(function alreadyAnswered() {
    // The request finished meanwhile; there is nothing left to answer.
  });
}

function isStale(proof: RequestProof, record: SessionRecord): boolean {
  return proof.generation !== record.generation || proof.principal !== record.principal;
}

/**
 * @example
 * const channels = createSessionChannels();
 * await channels.run(proof, () => transport.handleRequest(req, res, req.body));
 */
export function createSessionChannels(): SessionChannels {
  const context = new AsyncLocalStorage<RequestProof>();

  function cancel(record: SessionRecord, which: (proof: RequestProof) => boolean, message: string, reason: string): Promise<void>[] {
    const transport = record.transport;
    if (!transport) return [];
    const answers: Promise<void>[] = [];
    for (const proof of record.requests) {
      if (!which(proof)) continue;
      for (const id of proof.requestIds) {
        transport.onmessage?.({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason } });
        answers.push(answerWithError(transport, id, message));
      }
      proof.requestIds.clear();
    }
    return answers;
  }

  return {
    run: (proof, fn) => context.run(proof, fn),
    current: () => context.getStore(),
    stale(record) {
      const proof = context.getStore();
      return proof !== undefined && proof.record === record && isStale(proof, record) ? proof : undefined;
    },
    cancel,
    supersede(record) {
      const transport = record.transport;
      if (!transport) return 0;
      const cancelled = cancel(record, (proof) => proof.generation !== record.generation, SUPERSEDED_REQUEST_MESSAGE, 'session_reauthorized').length;
      transport.closeStandaloneSSEStream();
      return cancelled;
    },
    watch(record, transport, onSuperseded) {
      const deliver = transport.onmessage;
      transport.onmessage = function guardedMessage(message: JSONRPCMessage, extra) {
        const proof = context.getStore();
        if (proof !== undefined && proof.record === record && isJSONRPCRequest(message)) {
          if (isStale(proof, record)) {
            onSuperseded();
            void answerWithError(transport, message.id, SUPERSEDED_REQUEST_MESSAGE);
            return;
          }
          proof.requestIds.add(message.id);
        }
        deliver?.call(transport, message, extra);
      };
    },
  };
}
