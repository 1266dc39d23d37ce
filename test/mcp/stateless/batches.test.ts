/**
 * The batch refusal of revisions without batches, mounted alone.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mcpRefuseBatches } from '../../../src/mcp/batch.js';
import { mcpJsonBody } from '../../../src/mcp/http.js';
import { postJson, withMcpMiddleware } from '../helpers.js';

describe('mcpRefuseBatches', () => {
  it('refuses any JSON-RPC batch as an invalid request, and audits it', async () => {
    await withMcpMiddleware(
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
});
