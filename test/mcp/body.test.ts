import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { INITIALIZE, startGuardedServer, type GuardedServer } from './helpers.js';

async function post(server: GuardedServer, headers: Record<string, string>, body: Buffer | string): Promise<{ status: number; body: any }> {
  const response = await fetch(server.endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'user-agent': 'test-agent/1.0', ...headers },
    body,
  });
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text) };
}

describe('MCP request bodies', () => {
  let server: GuardedServer;
  before(async () => {
    server = await startGuardedServer();
  });
  after(async () => {
    await server.close();
  });

  it('answers a body nested deeper than 64 levels with 400 before any session work (no stack overflow, no 500)', async () => {
    const depth = 200_000;
    const body = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"},"x":${'['.repeat(depth)}${']'.repeat(depth)}}}`;
    const answer = await post(server, { 'mcp-protocol-version': '2025-06-18' }, body);
    assert.equal(answer.status, 400);
    assert.deepEqual(answer.body.error, { code: -32600, message: 'Invalid Request: the body nests deeper than 64 levels.' });
  });

  it('answers Content-Encoding: compress with 415 and a JSON-RPC body, not a 500', async () => {
    const answer = await post(server, { 'content-encoding': 'compress' }, JSON.stringify(INITIALIZE));
    assert.equal(answer.status, 415);
    assert.deepEqual(answer.body, { jsonrpc: '2.0', error: { code: -32000, message: 'Unsupported Media Type: use Content-Encoding identity, gzip, deflate or br.' }, id: null });
  });

  it('answers a corrupt gzip body with 400 and names no zlib internals', async () => {
    const valid = gzipSync(JSON.stringify(INITIALIZE));
    for (const corrupt of [Buffer.from('not gzip at all'), valid.subarray(0, valid.length - 6)]) {
      const answer = await post(server, { 'content-encoding': 'gzip' }, corrupt);
      assert.equal(answer.status, 400);
      assert.equal(answer.body.error.message, 'Bad Request: the compressed body could not be decoded.');
      assert.ok(!JSON.stringify(answer.body).includes('Z_'));
    }
  });

  it('still serves a well-formed gzip body', async () => {
    const response = await fetch(server.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify(INITIALIZE)),
    });
    assert.equal(response.status, 200);
    assert.ok(response.headers.get('mcp-session-id'));
    await response.body?.cancel();
  });
});
