import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import express from 'express';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { connectClient, INITIALIZE, listenMcp, login, rawPost, withGuardedServer } from './helpers.js';

const OLD = { 'mcp-protocol-version': '2025-03-26' };

function calls(n: number): unknown[] {
  return Array.from({ length: n }, (_, i) => ({ jsonrpc: '2.0', id: 100 + i, method: 'tools/call', params: { name: 'whoami', arguments: {} } }));
}

/** Results in an SSE or JSON answer. */
function answered(body: unknown): number {
  if (Array.isArray(body)) return body.filter((m) => m && typeof m === 'object' && 'result' in m).length;
  if (typeof body !== 'string') return body && typeof body === 'object' && 'result' in body ? 1 : 0;
  return body.split('\n').filter((line) => line.startsWith('data: ') && line.includes('"result"')).length;
}

/** The baseline: the SDK transport behind a rate limit that counts HTTP requests (10 per minute). */
async function startRequestCountingServer(): Promise<{ endpoint: URL; close(): Promise<void> }> {
  const limiter = new RateLimiterMemory({ points: 10, duration: 60 });
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const app = express();
  app.use(express.json());
  app.post('/mcp', async function countRequests(req, res) {
    try {
      await limiter.consume(req.ip ?? 'x');
    } catch {
      return void res.status(429).end();
    }
    const sid = req.headers['mcp-session-id'] as string | undefined;
    let transport = sid ? transports.get(sid) : undefined;
    if (!transport && isInitializeRequest(req.body)) {
      const server = new McpServer({ name: 'counting', version: '1.0.0' });
      server.registerTool('whoami', {}, async () => ({ content: [{ type: 'text' as const, text: 'x' }] }));
      const created: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), onsessioninitialized: (id) => void transports.set(id, created) });
      await server.connect(created);
      transport = created;
    }
    if (!transport) return void res.status(404).end();
    await transport.handleRequest(req, res, req.body);
  });
  return listenMcp(app);
}

describe('MCP JSON-RPC batches', () => {
  it('runs 50 tool calls in one request under a limit of 10 requests per minute when limits count HTTP requests (the attack)', async () => {
    const baseline = await startRequestCountingServer();
    try {
      const init = await rawPost(baseline.endpoint, {}, INITIALIZE);
      const sid = init.headers.get('mcp-session-id') as string;
      await rawPost(baseline.endpoint, { ...OLD, 'mcp-session-id': sid }, { jsonrpc: '2.0', method: 'notifications/initialized' });
      const batch = await rawPost(baseline.endpoint, { ...OLD, 'mcp-session-id': sid }, calls(50));
      assert.equal(batch.status, 200);
      assert.equal(answered(batch.body), 50, 'the baseline must run every call, or this test proves nothing');
    } finally {
      await baseline.close();
    }
  });

  it('charges every message of a batch to the principal’s limit', async () => {
    await withGuardedServer({ rateLimit: { perIp: false, perPrincipal: { points: 10, window: '1m' } } }, async (server) => {
      const a = await connectClient(server.endpoint);
      const token = await login(server, a);
      const headers = { ...OLD, 'mcp-session-id': a.sessionId as string, 'x-session-token': token };
      const first = await rawPost(server.endpoint, headers, calls(5));
      assert.equal(first.status, 200);
      assert.equal(answered(first.body), 5);
      const second = await rawPost(server.endpoint, headers, calls(6));
      assert.equal(second.status, 429, '5 + 6 messages exceed 10');
      assert.ok(second.headers.get('retry-after'));
      assert.equal(server.audit.of('rate_limit_exceeded').at(-1)?.reason, 'per_principal');
      await a.close();
    });
  });

  it('charges every message to the IP’s limit as well', async () => {
    await withGuardedServer({ rateLimit: { perIp: { points: 10, window: '1m' }, perPrincipal: false } }, async (server) => {
      const init = await rawPost(server.endpoint, {}, INITIALIZE);
      const sid = init.headers.get('mcp-session-id') as string;
      const batch = await rawPost(server.endpoint, { ...OLD, 'mcp-session-id': sid }, calls(12));
      assert.equal(batch.status, 429);
      assert.equal(server.audit.of('rate_limit_exceeded').at(-1)?.reason, 'per_ip');
    });
  });

  it('refuses any batch under protocol revision 2025-06-18 and later, and caps older batches at maxBatchSize', async () => {
    await withGuardedServer({ maxBatchSize: 4 }, async (server) => {
      const a = await connectClient(server.endpoint);
      const token = await login(server, a);
      const headers = { 'mcp-session-id': a.sessionId as string, 'x-session-token': token };
      for (const revision of ['2025-06-18', '2025-11-25']) {
        const refused = await rawPost(server.endpoint, { ...headers, 'mcp-protocol-version': revision }, calls(2));
        assert.equal(refused.status, 400);
        assert.match(refused.body.error.message, /has no JSON-RPC batches/);
      }
      assert.equal(server.audit.of('batch_rejected').at(-1)?.reason, 'revision_without_batches');
      const large = await rawPost(server.endpoint, { ...headers, ...OLD }, calls(5));
      assert.equal(large.status, 400);
      assert.equal(large.body.error.message, 'Bad Request: a batch may carry at most 4 messages.');
      const fits = await rawPost(server.endpoint, { ...headers, ...OLD }, calls(4));
      assert.equal(answered(fits.body), 4);
      await a.close();
    });
  });
});
