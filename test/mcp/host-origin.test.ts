import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import express from 'express';
import { Auditor, memorySink } from '../../src/audit/index.js';
import { mcpHostOriginCheck } from '../../src/mcp/host-origin.js';
import { INITIALIZE, SECRET, withGuardedServer } from './helpers.js';

/** A POST with a chosen Host header (fetch cannot set one), as a DNS-rebound page's request arrives. */
function postWithHost(
  endpoint: URL,
  host: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify(INITIALIZE);
    const req = request(
      endpoint,
      {
        method: 'POST',
        headers: {
          host,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'content-length': Buffer.byteLength(body),
          ...headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => {
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // SSE
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('MCP Host and Origin checks', () => {
  it('serves a DNS-rebound request (Host: evil.example.com, no Origin) when the Host check is off (the attack)', async () => {
    await withGuardedServer({ allowedHosts: false }, async (server) => {
      assert.equal((await postWithHost(server.endpoint, 'evil.example.com')).status, 200);
    });
  });

  it('refuses it by default with 403 and an audit event: only localhost names are allowed, on any port', async () => {
    await withGuardedServer({}, async (server) => {
      const rebound = await postWithHost(server.endpoint, 'evil.example.com');
      assert.equal(rebound.status, 403);
      assert.deepEqual(rebound.body, {
        jsonrpc: '2.0',
        error: { code: -32000, message: 'Forbidden: host not allowed' },
        id: null,
      });
      assert.equal(server.audit.of('host_rejected').at(-1)?.detail?.host, 'evil.example.com');
      assert.equal(server.guard.size, 0);
      for (const host of [
        'localhost:1234',
        '127.0.0.1',
        `127.0.0.1:${server.endpoint.port}`,
        '[::1]:8080',
      ]) {
        assert.equal((await postWithHost(server.endpoint, host)).status, 200, host);
      }
      for (const host of ['localhost.evil.example.com', '127.0.0.1.nip.io']) {
        assert.equal((await postWithHost(server.endpoint, host)).status, 403, host);
      }
      // The URL parser reads this as userinfo `evil.example.com:80` at 127.0.0.1.
      assert.equal(
        (await postWithHost(server.endpoint, 'evil.example.com:80@127.0.0.1')).status,
        403,
      );
    });
  });

  it('allows the names of allowedHosts instead, and checks Origin as well as Host', async () => {
    await withGuardedServer(
      { allowedHosts: ['mcp.example.com'], allowedOrigins: ['https://app.example.com'] },
      async (server) => {
        assert.equal((await postWithHost(server.endpoint, 'MCP.example.com:443')).status, 200);
        assert.equal((await postWithHost(server.endpoint, 'localhost')).status, 403);
        assert.equal(
          (
            await postWithHost(server.endpoint, 'mcp.example.com', {
              origin: 'https://evil.example',
            })
          ).status,
          403,
        );
        assert.equal(
          (
            await postWithHost(server.endpoint, 'mcp.example.com', {
              origin: 'https://app.example.com',
            })
          ).status,
          200,
        );
      },
    );
  });

  it('refuses an allowedHosts entry with a scheme or port at construction', () => {
    const auditor = new Auditor({ sinks: [memorySink()], hashSecret: SECRET });
    for (const host of ['https://mcp.example.com', 'mcp.example.com:443', '', 'a b']) {
      assert.throws(
        () => mcpHostOriginCheck({ allowedHosts: [host], auditor }),
        /`allowedHosts` must hold hostnames without scheme or port/,
        host,
      );
    }
    assert.doesNotThrow(() => express().use(mcpHostOriginCheck({ allowedHosts: false, auditor })));
  });
});
