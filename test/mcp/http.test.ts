import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Express } from 'express';
import { Auditor, memorySink } from '../../src/audit/index.js';
import { refusal, McpGuardError } from '../../src/mcp/errors.js';
import { mcpAllowedMethods, mcpErrorHandler, mcpJsonBody, sendMcpRefusal } from '../../src/mcp/http.js';
import { SECRET, withExpressApp } from './helpers.js';

function withApp(build: (app: Express) => void, body: (url: string) => Promise<void>): Promise<void> {
  return withExpressApp((app) => build(app), (url) => body(url));
}

describe('MCP endpoint HTTP pieces', () => {
  it('answers methods other than GET, POST and DELETE with 405 and Allow, before the next piece runs', async () => {
    let reached = 0;
    await withApp(
      (app) => app.all('/mcp', mcpAllowedMethods(), (_req, res) => void (reached++, res.json({ ok: true }))),
      async (url) => {
        const put = await fetch(url, { method: 'PUT' });
        assert.equal(put.status, 405);
        assert.equal(put.headers.get('allow'), 'GET, POST, DELETE');
        assert.deepEqual(await put.json(), { jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed.' }, id: null });
        assert.equal(reached, 0);
        for (const method of ['GET', 'POST', 'DELETE']) assert.equal((await fetch(url, { method })).status, 200, method);
        assert.equal(reached, 3);
      },
    );
  });

  it('answers a refusal with its status and headers, and audits it with its reason', async () => {
    const audit = memorySink();
    const auditor = new Auditor({ sinks: [audit], hashSecret: SECRET });
    await withApp(
      (app) =>
        app.post('/mcp', (req, res) => {
          const refused = { ...refusal(new McpGuardError('SERVER_BUSY', 'Server busy: try again later.'), 'mcp_session_limit', 'max_sessions'), headers: { 'Retry-After': '60' } };
          sendMcpRefusal(res, refused, auditor, { ip: req.ip });
        }),
      async (url) => {
        const answer = await fetch(url, { method: 'POST' });
        assert.equal(answer.status, 503);
        assert.equal(answer.headers.get('retry-after'), '60');
        assert.deepEqual(await answer.json(), { jsonrpc: '2.0', error: { code: -32603, message: 'Server busy: try again later.' }, id: null });
        assert.deepEqual(audit.of('mcp_session_limit').map((event) => event.reason), ['max_sessions']);
      },
    );
  });

  it('maps body failures to their own codes and statuses, and any other failure to a 500 that names nothing internal', async () => {
    await withApp(
      (app) => {
        app.post('/mcp', mcpJsonBody({ limit: 64 }), (req, res) => {
          if ((req.body as { crash?: boolean }).crash) throw new RangeError('internal detail: pool exhausted in WidgetFactory');
          res.json({ ok: true });
        });
        app.use('/mcp', mcpErrorHandler());
      },
      async (url) => {
        const post = (body: string) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        const warnings: string[] = [];
        const onWarning = (warning: Error) => void warnings.push(warning.message);
        process.on('warning', onWarning);
        try {
          const parse = await post('{"jsonrpc":');
          assert.equal(parse.status, 400);
          assert.deepEqual(((await parse.json()) as { error: unknown }).error, { code: -32700, message: 'Parse error' });
          const large = await post(JSON.stringify({ padding: 'x'.repeat(200) }));
          assert.equal(large.status, 413);
          assert.deepEqual(((await large.json()) as { error: unknown }).error, { code: -32000, message: 'Payload too large' });
          const crash = await post('{"crash":true}');
          assert.equal(crash.status, 500);
          const text = await crash.text();
          assert.deepEqual(JSON.parse(text), { jsonrpc: '2.0', error: { code: -32603, message: 'Internal server error' }, id: null });
          assert.ok(!/RangeError|WidgetFactory|McpGuardError/.test(text), 'no internal name in the body');
          await new Promise((resolve) => setImmediate(resolve));
          assert.ok(warnings.some((message) => message.includes('pool exhausted')), 'the operator gets the detail as a process warning');
        } finally {
          process.off('warning', onWarning);
        }
      },
    );
  });
});
