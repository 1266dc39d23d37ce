/**
 * The small pieces of both MCP pipelines, each mounted alone on a real Express app: the
 * per-principal rate limit, the dispatch steps (refusing a request no binding let through), the
 * batch refusal, era routing and the request-state binding of the 2026-07-28 era.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Express, Request } from 'express';
import type { Auditor, memorySink } from '../../src/audit/index.js';
import { mcpRefuseBatches } from '../../src/mcp/batch.js';
import { createSessionChannels } from '../../src/mcp/channels.js';
import { mcpSessionDispatch } from '../../src/mcp/dispatch.js';
import { mcpErrorHandler, mcpJsonBody } from '../../src/mcp/http.js';
import type { SessionLifecycle } from '../../src/mcp/lifecycle.js';
import { createMcpRateLimiter, mcpPrincipalRateLimit } from '../../src/mcp/rate-limit.js';
import { createStatelessDispatch } from '../../src/mcp/stateless/dispatch.js';
import { mcpEraRouting } from '../../src/mcp/stateless/era.js';
import { withExpressApp } from './helpers.js';

function withApp(build: (app: Express, auditor: Auditor) => void, body: (url: string, audit: ReturnType<typeof memorySink>) => Promise<void>): Promise<void> {
  return withExpressApp((app, auditor) => {
    build(app, auditor);
    app.use('/mcp', mcpErrorHandler());
  }, body);
}

const postJson = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers }, body: JSON.stringify(body) });
const userOf = (req: Request) => (typeof req.headers['x-user'] === 'string' ? req.headers['x-user'] : undefined);

describe('mcpPrincipalRateLimit', () => {
  it('lets one principal flood the endpoint when it is not mounted (the attack)', async () => {
    await withApp(
      (app) => app.post('/mcp', (_req, res) => void res.json({ ok: true })),
      async (url) => {
        const statuses = [];
        for (let i = 0; i < 5; i++) statuses.push((await postJson(url, {}, { 'x-user': 'mallory' })).status);
        assert.deepEqual(statuses, [200, 200, 200, 200, 200]);
      },
    );
  });

  it('charges each principal on its own, answers 429 with Retry-After past the limit, and audits it', async () => {
    await withApp(
      (app, auditor) => {
        const limiter = createMcpRateLimiter({ perIp: false, perPrincipal: { points: 2, window: '1m' } });
        app.post('/mcp', mcpPrincipalRateLimit({ limiter, auditor, principalOf: userOf }), (_req, res) => void res.json({ ok: true }));
      },
      async (url, audit) => {
        const statuses = [];
        for (let i = 0; i < 3; i++) statuses.push((await postJson(url, {}, { 'x-user': 'mallory' })).status);
        assert.deepEqual(statuses, [200, 200, 429]);
        const limited = await postJson(url, {}, { 'x-user': 'mallory' });
        assert.ok(Number(limited.headers.get('retry-after')) >= 1);
        assert.equal((await postJson(url, {}, { 'x-user': 'alice' })).status, 200, 'another principal is not affected');
        assert.equal((await postJson(url, {})).status, 200, 'a request without a principal is left to the per-IP limit');
        assert.deepEqual(audit.of('rate_limit_exceeded').map((event) => [event.principal, event.reason]), [['mallory', 'per_principal'], ['mallory', 'per_principal']]);
      },
    );
  });
});

describe('MCP dispatch steps', () => {
  it('refuses (500, nothing internal named) a request that reached the sessionful dispatch without a session binding', async () => {
    await withApp(
      (app) => app.all('/mcp', mcpSessionDispatch({ channels: createSessionChannels(), lifecycle: {} as SessionLifecycle })),
      async (url) => {
        const answer = await postJson(url, { jsonrpc: '2.0', id: 1, method: 'tools/list' });
        assert.equal(answer.status, 500);
        assert.deepEqual(await answer.json(), { jsonrpc: '2.0', error: { code: -32603, message: 'Internal server error' }, id: null });
      },
    );
  });

  it('refuses a request that reached the 2026-07-28 dispatch without a request scope, and never calls the SDK', async () => {
    let called = 0;
    await withApp(
      (app) => app.all('/mcp', mcpJsonBody(), createStatelessDispatch().middleware(async () => void called++)),
      async (url) => {
        assert.equal((await postJson(url, { jsonrpc: '2.0', id: 1, method: 'tools/list' })).status, 500);
        assert.equal(called, 0);
      },
    );
  });
});

describe('2026-07-28 pipeline pieces', () => {
  it('refuses any JSON-RPC batch as an invalid request, and audits it', async () => {
    await withApp(
      (app, auditor) => app.post('/mcp', mcpJsonBody(), mcpRefuseBatches({ auditor, revision: '2026-07-28' }), (_req, res) => void res.json({ ok: true })),
      async (url, audit) => {
        const batch = await postJson(url, [{ jsonrpc: '2.0', id: 1, method: 'tools/list' }, { jsonrpc: '2.0', id: 2, method: 'tools/list' }]);
        assert.equal(batch.status, 400);
        assert.deepEqual(await batch.json(), { jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request: JSON-RPC batches are not part of the 2026-07-28 revision.' }, id: null });
        assert.deepEqual(audit.of('batch_rejected').map((event) => [event.reason, event.detail?.messages]), [['revision_without_batches', 2]]);
        assert.equal((await postJson(url, { jsonrpc: '2.0', id: 1, method: 'tools/list' })).status, 200);
      },
    );
  });

  it('hands 2025-era traffic to the legacy handler and lets 2026-07-28 requests go on', async () => {
    await withApp(
      (app) =>
        app.post(
          '/mcp',
          mcpJsonBody(),
          mcpEraRouting({ legacy: (_req, res) => void res.json({ era: 'legacy' }) }),
          (_req, res) => void res.json({ era: 'modern' }),
        ),
      async (url) => {
        const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'c', version: '1' } } };
        assert.deepEqual(await (await postJson(url, initialize)).json(), { era: 'legacy' });
        const modern = { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } } };
        assert.deepEqual(await (await postJson(url, modern, { 'mcp-protocol-version': '2026-07-28' })).json(), { era: 'modern' });
      },
    );
  });

  it('lets every request go on when 2025-era traffic is refused (the SDK handler answers it)', async () => {
    await withApp(
      (app) => app.post('/mcp', mcpJsonBody(), mcpEraRouting({ legacy: 'reject' }), (_req, res) => void res.json({ era: 'modern' })),
      async (url) => {
        const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'c', version: '1' } } };
        assert.deepEqual(await (await postJson(url, initialize)).json(), { era: 'modern' });
      },
    );
  });
});
