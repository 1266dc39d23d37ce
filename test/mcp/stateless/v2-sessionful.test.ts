/**
 * What the README says about SDK v2 and 2025 sessions, held against the SDK itself:
 * `createMcpHandler` serves 2025 clients only statelessly (no session id, GET/DELETE 405), and
 * v2's sessionful transport, like 1.x's, checks only that `Mcp-Session-Id` matches, not who owns
 * the session — which is why 2025 traffic goes to the sessionful guard.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import express from 'express';
import { z } from 'zod';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer, createMcpHandler } from '@modelcontextprotocol/server';
import { NodeStreamableHTTPServerTransport, toNodeHandler } from '@modelcontextprotocol/node';
import { INITIALIZE, listenMcp, rawPost, toolText } from '../helpers.js';

function v2Server(owner: { name: string }): McpServer {
  const server = new McpServer({ name: 'v2-sessionful', version: '1.0.0' });
  server.registerTool('whoami', { description: 'The user this session was opened for', inputSchema: z.object({}) }, async () => ({ content: [{ type: 'text', text: owner.name }] }));
  return server;
}

describe('SDK v2 and 2025-era sessions', () => {
  it('createMcpHandler answers a 2025 client statelessly: no Mcp-Session-Id, and GET/DELETE are 405', async () => {
    const handler = createMcpHandler(() => v2Server({ name: 'anyone' }));
    const app = express();
    app.use(express.json());
    const node = toNodeHandler(handler);
    app.all('/mcp', (req, res) => void node(req, res, req.body));
    const http = await listenMcp(app);
    try {
      const init = await rawPost(http.endpoint, {}, INITIALIZE);
      assert.equal(init.status, 200);
      assert.equal(init.headers.get('mcp-session-id'), null, 'no session is created');
      assert.equal((await fetch(http.endpoint, { method: 'GET', headers: { accept: 'text/event-stream' } })).status, 405);
      assert.equal((await fetch(http.endpoint, { method: 'DELETE' })).status, 405);
    } finally {
      await http.close();
      await handler.close();
    }
  });

  it("serves 2025 sessions through v2's NodeStreamableHTTPServerTransport, and serves a stolen session id to anyone (no owner check)", async () => {
    const transports = new Map<string, NodeStreamableHTTPServerTransport>();
    const app = express();
    app.use(express.json());
    app.all('/mcp', async (req, res) => {
      const id = req.headers['mcp-session-id'];
      let transport = typeof id === 'string' ? transports.get(id) : undefined;
      if (!transport) {
        const created = new NodeStreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), onsessioninitialized: (sid) => void transports.set(sid, created) });
        // The app authenticated alice before opening her session; the transport knows nothing of it.
        await v2Server({ name: 'alice' }).connect(created);
        transport = created;
      }
      await transport.handleRequest(req, res, req.body);
    });
    const http = await listenMcp(app);
    const alice = new LegacyClient({ name: 'alice-client', version: '1.0.0' });
    const aliceTransport = new LegacyTransport(http.endpoint);
    try {
      await alice.connect(aliceTransport);
      const sessionId = aliceTransport.sessionId as string;
      assert.match(sessionId, /^[0-9a-f-]{36}$/, 'a sessionful 2025 session on SDK v2');
      assert.equal(toolText(await alice.callTool({ name: 'whoami', arguments: {} })), 'alice');
      // Another client with nothing but the id: served as alice.
      const stolen = await rawPost(http.endpoint, { 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' }, { jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'whoami', arguments: {} } });
      assert.equal(stolen.status, 200);
      assert.match(JSON.stringify(stolen.body), /alice/);
    } finally {
      await alice.close();
      await http.close();
      await Promise.all([...transports.values()].map((transport) => transport.close()));
    }
  });
});
