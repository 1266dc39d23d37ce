/**
 * The sessionful dispatch, mounted alone: it refuses a request no session binding let through.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSessionChannels } from '../../src/mcp/channels.js';
import { mcpSessionDispatch } from '../../src/mcp/dispatch.js';
import type { SessionLifecycle } from '../../src/mcp/lifecycle.js';
import { postJson, withMcpMiddleware } from './helpers.js';

describe('mcpSessionDispatch', () => {
  it('refuses (500, nothing internal named) a request that reached the sessionful dispatch without a session binding', async () => {
    await withMcpMiddleware(
      (app) => app.all('/mcp', mcpSessionDispatch({ channels: createSessionChannels(), lifecycle: {} as SessionLifecycle })),
      async (url) => {
        const answer = await postJson(url, { jsonrpc: '2.0', id: 1, method: 'tools/list' });
        assert.equal(answer.status, 500);
        assert.deepEqual(await answer.json(), { jsonrpc: '2.0', error: { code: -32603, message: 'Internal server error' }, id: null });
      },
    );
  });
});
