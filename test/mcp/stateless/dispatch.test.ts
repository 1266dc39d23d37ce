/**
 * The 2026-07-28 dispatch, mounted alone: it never hands the SDK a request without a scope.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mcpJsonBody } from '../../../src/mcp/http.js';
import { createStatelessDispatch } from '../../../src/mcp/stateless/dispatch.js';
import { postJson, withMcpMiddleware } from '../helpers.js';

describe('stateless dispatch', () => {
  it('refuses a request that reached the 2026-07-28 dispatch without a request scope, and never calls the SDK', async () => {
    let called = 0;
    await withMcpMiddleware(
      (app) => app.all('/mcp', mcpJsonBody(), createStatelessDispatch().middleware(async () => void called++)),
      async (url) => {
        assert.equal((await postJson(url, { jsonrpc: '2.0', id: 1, method: 'tools/list' })).status, 500);
        assert.equal(called, 0);
      },
    );
  });
});

