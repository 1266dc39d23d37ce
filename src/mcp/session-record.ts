/**
 * What the sessionful guard keeps per session, and what one request proved about it. Plain
 * data: the registry indexes records, the lifecycle changes them, the request pipeline reads them.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { RequestId } from '@modelcontextprotocol/sdk/types.js';

export type AuthMethod = 'callback' | 'bearer';

export interface SessionRecord {
  id: string;
  createdAt: number;
  lastSeenAt: number;
  authorizedAt: number | undefined;
  principal: string | undefined;
  /**
   * The principal whose binding is being admitted to the index (the session has none yet):
   * another principal's binding is refused at once, before its admission could evict one of its
   * own sessions for a place it would not get.
   */
  binding: string | undefined;
  issuer: string | undefined;
  emails: Set<string>;
  authMethod: AuthMethod | undefined;
  /** Bumped by every authorization: tokens and requests of an earlier one are superseded. */
  generation: number;
  fingerprint: string;
  clientInfo: string | undefined;
  ip: string | undefined;
  server: McpServer | undefined;
  transport: StreamableHTTPServerTransport | undefined;
  initialized: boolean;
  retired: boolean;
  /** Requests (not GET streams) being answered: the session closes when the last one ends. */
  inflight: number;
  /** Requests being answered now (GET streams included), with what each one proved. */
  requests: Set<RequestProof>;
}

/**
 * What one HTTP request proved when it passed the checks. Its handlers act as this identity and
 * generation only: authorizing the session later gives them nothing.
 */
export interface RequestProof {
  record: SessionRecord;
  principal: string | undefined;
  generation: number;
  /** JSON-RPC ids this HTTP request carries, so they can be cancelled when superseded. */
  requestIds: Set<RequestId>;
}

/** A new, unauthenticated session record (its id is server-generated, never the client's). */
export function newSessionRecord(fields: { id: string; now: number; fingerprint: string; clientInfo: string | undefined; ip: string | undefined }): SessionRecord {
  return {
    id: fields.id,
    createdAt: fields.now,
    lastSeenAt: fields.now,
    authorizedAt: undefined,
    principal: undefined,
    binding: undefined,
    issuer: undefined,
    emails: new Set(),
    authMethod: undefined,
    generation: 0,
    fingerprint: fields.fingerprint,
    clientInfo: fields.clientInfo,
    ip: fields.ip,
    server: undefined,
    transport: undefined,
    initialized: false,
    retired: false,
    inflight: 0,
    requests: new Set(),
  };
}
