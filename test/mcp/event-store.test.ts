/**
 * Resumable streams (`eventStore`): one store serves every session, and the SDK's transport
 * replays from any `Last-Event-ID` the store knows. Without the guard's scope, Bob resumes a
 * stream of Alice's and reads her messages; with it, each session resumes only its own.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import express from 'express';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport, type EventStore } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { INITIALIZE, connectClient, listenMcp, login, withGuardedServer } from './helpers.js';

/** The simplest store an app would write: every event of every stream, in order. */
function sharedEventStore(): EventStore & { size(): number } {
  const events: Array<{ id: string; streamId: string; message: JSONRPCMessage }> = [];
  return {
    size: () => events.length,
    async storeEvent(streamId, message) {
      const id = randomUUID();
      events.push({ id, streamId, message });
      return id;
    },
    async getStreamIdForEventId(eventId) {
      return events.find((e) => e.id === eventId)?.streamId;
    },
    async replayEventsAfter(lastEventId, { send }) {
      const at = events.findIndex((e) => e.id === lastEventId);
      if (at < 0) return '';
      const { streamId } = events[at] as { streamId: string };
      for (const e of events.slice(at + 1)) if (e.streamId === streamId) await send(e.id, e.message);
      return streamId;
    },
  };
}

/** The first revision whose streams open with a priming event: the answer is then the event after the first id. */
const PROTOCOL = '2025-11-25';
const SSE_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': PROTOCOL };

/** POSTs a tools/call and returns the SSE text and its event ids. */
async function callOverSse(endpoint: URL, headers: Record<string, string>, tool: string): Promise<{ text: string; ids: string[] }> {
  const response = await fetch(endpoint, { method: 'POST', headers: { ...SSE_HEADERS, ...headers }, body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: tool, arguments: {} } }) });
  assert.equal(response.status, 200);
  const text = await response.text();
  return { text, ids: [...text.matchAll(/^id: ?(.+)$/gm)].map((m) => (m[1] as string).trim()) };
}

/** A GET that resumes after `lastEventId`; reads what arrives within a short while. */
async function resume(endpoint: URL, headers: Record<string, string>, lastEventId: string): Promise<{ status: number; text: string }> {
  const controller = new AbortController();
  const response = await fetch(endpoint, { headers: { accept: 'text/event-stream', 'mcp-protocol-version': PROTOCOL, 'last-event-id': lastEventId, ...headers }, signal: controller.signal });
  if (response.status !== 200) return { status: response.status, text: await response.text() };
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  let text = '';
  const decoder = new TextDecoder();
  // The replay is written before the stream is handed out: read until it has arrived or the stream idles.
  for (;;) {
    const chunk = await Promise.race([reader.read(), new Promise<undefined>((resolve) => setTimeout(resolve, 300, undefined))]);
    if (chunk === undefined || chunk.done) break;
    text += decoder.decode(chunk.value);
  }
  controller.abort();
  return { status: response.status, text };
}

describe('MCP resumable streams: one event store, a scope per session', () => {
  it('without the scope, a second session resumes the first one\'s stream and reads its messages (the SDK alone)', async () => {
    const store = sharedEventStore();
    const transports = new Map<string, StreamableHTTPServerTransport>();
    const app = express();
    app.use(express.json());
    app.all('/mcp', async (req, res) => {
      const id = req.get('mcp-session-id');
      let transport = id ? transports.get(id) : undefined;
      if (!transport) {
        const user = req.get('x-user') ?? 'nobody';
        const created = new StreamableHTTPServerTransport({ sessionIdGenerator: randomUUID, eventStore: store, onsessioninitialized: (sid) => void transports.set(sid, created) });
        const server = new McpServer({ name: 'plain', version: '1.0.0' });
        server.registerTool('secret', { description: "the user's secret" }, async () => ({ content: [{ type: 'text' as const, text: `secret-of-${user}` }] }));
        await server.connect(created);
        transport = created;
      }
      await transport.handleRequest(req, res, req.body);
    });
    const served = await listenMcp(app);
    try {
      const open = async (user: string) => {
        const response = await fetch(served.endpoint, { method: 'POST', headers: { ...SSE_HEADERS, 'x-user': user }, body: JSON.stringify({ ...INITIALIZE, params: { ...INITIALIZE.params, protocolVersion: PROTOCOL } }) });
        await response.text();
        return response.headers.get('mcp-session-id') as string;
      };
      const alice = await open('alice');
      const bob = await open('bob');
      const { ids } = await callOverSse(served.endpoint, { 'mcp-session-id': alice }, 'secret');
      assert.equal(ids.length, 2, 'the SDK numbers its SSE events when it has an event store: a priming event, then the answer');
      const stolen = await resume(served.endpoint, { 'mcp-session-id': bob }, ids[0] as string);
      assert.equal(stolen.status, 200);
      assert.match(stolen.text, /secret-of-alice/, "Bob's session replays Alice's answer");
    } finally {
      await served.close();
    }
  });

  it("with the guard, a session resumes its own stream, another session's event id is refused (400, audited), and an earlier authorization's ids end with it", async () => {
    const store = sharedEventStore();
    await withGuardedServer({ eventStore: store }, async (server) => {
      const alice = await connectClient(server.endpoint);
      const bob = await connectClient(server.endpoint);
      await login(server, alice, 'alice');
      await login(server, bob, 'bob');
      const as = (c: typeof alice) => ({ 'mcp-session-id': c.sessionId as string, 'x-session-token': c.token as string, 'user-agent': 'test-agent/1.0' });

      const first = await callOverSse(server.endpoint, as(alice), 'whoami');
      assert.equal(first.ids.length, 2);
      assert.match(first.text, /alice/);
      await callOverSse(server.endpoint, as(alice), 'whoami');

      const own = await resume(server.endpoint, as(alice), first.ids[0] as string);
      assert.equal(own.status, 200, 'Alice resumes her own stream');
      assert.match(own.text, /alice/, 'and gets what followed the id she named');

      const foreign = await resume(server.endpoint, as(bob), first.ids[0] as string);
      assert.equal(foreign.status, 400, "Bob cannot resume Alice's stream");
      assert.doesNotMatch(foreign.text, /alice/);
      const refusal = server.audit.events.find((e) => e.type === 'session_token_mismatch' && e.reason === 'foreign_event_id');
      assert.ok(refusal, 'the refusal is audited');
      assert.doesNotMatch(JSON.stringify(server.audit.events), new RegExp(first.ids[0] as string), 'never with the event id itself');

      await login(server, alice, 'alice'); // authorized again: a new generation
      const stale = await resume(server.endpoint, as(alice), first.ids[0] as string);
      assert.equal(stale.status, 400, 'ids of an earlier authorization are not replayed into a later one');
      await alice.close();
      await bob.close();
    });
  });

  it('refuses an event store without the two methods', async () => {
    await assert.rejects(withGuardedServer({ eventStore: {} as EventStore }, async () => {}), /`eventStore` must be an EventStore/);
  });
});
