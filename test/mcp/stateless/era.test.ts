/**
 * Era routing, mounted alone: 2025-era traffic to the legacy handler, the rest on.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mcpJsonBody } from '../../../src/mcp/http.js';
import { mcpEraRouting } from '../../../src/mcp/stateless/era.js';
import { postJson, withMcpMiddleware } from '../helpers.js';

describe('mcpEraRouting', () => {
  it('hands 2025-era traffic to the legacy handler and lets 2026-07-28 requests go on', async () => {
    await withMcpMiddleware(
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
    await withMcpMiddleware(
      (app) => app.post('/mcp', mcpJsonBody(), mcpEraRouting({ legacy: 'reject' }), (_req, res) => void res.json({ era: 'modern' })),
      async (url) => {
        const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'c', version: '1' } } };
        assert.deepEqual(await (await postJson(url, initialize)).json(), { era: 'modern' });
      },
    );
  });
});
