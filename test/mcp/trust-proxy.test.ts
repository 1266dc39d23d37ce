import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import express from 'express';
import { Auditor, memorySink } from '../../src/audit/index.js';
import { createMcpRateLimiter, mcpIpRateLimit } from '../../src/mcp/rate-limit.js';
import { SECRET } from './helpers.js';

async function probe(trustProxy: unknown, forwardedFor: string[]): Promise<{ statuses: number[]; warnings: string[]; audit: ReturnType<typeof memorySink> }> {
  const audit = memorySink();
  const auditor = new Auditor({ sinks: [audit], hashSecret: SECRET });
  const app = express();
  app.set('trust proxy', trustProxy);
  app.use(mcpIpRateLimit({ limiter: createMcpRateLimiter({ perIp: { points: 2, window: '1m' }, perPrincipal: false }), auditor }));
  app.get('/', (_req, res) => void res.send('ok'));
  const warnings: string[] = [];
  const onWarning = (warning: Error & { code?: string }) => void (warning.code === 'FIXATION_GUARD_INSECURE' && warnings.push(warning.message));
  process.on('warning', onWarning);
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  try {
    const statuses: number[] = [];
    for (const ip of forwardedFor) {
      const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, { headers: { 'x-forwarded-for': ip } });
      statuses.push(response.status);
      await response.body?.cancel();
    }
    await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    return { statuses, warnings, audit };
  } finally {
    process.off('warning', onWarning);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('MCP per-IP limit behind proxies', () => {
  const spoofed = ['1.1.1.1', '2.2.2.2', '3.3.3.3', '4.4.4.4'];

  it('lets a client mint a fresh bucket per request with trust proxy = true, and warns once about it', async () => {
    const { statuses, warnings, audit } = await probe(true, spoofed);
    assert.deepEqual(statuses, [200, 200, 200, 200], 'the spoofed X-Forwarded-For escapes the limit: the reason for the warning');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] as string, /`trust proxy` is true.*set it to the number of proxies/);
    assert.equal(audit.of('insecure_configuration').at(-1)?.reason, 'trust_proxy_true');
  });

  it('keeps the limit without trust proxy (the socket address counts) and says nothing', async () => {
    const { statuses, warnings } = await probe(false, spoofed);
    assert.deepEqual(statuses, [200, 200, 429, 429]);
    assert.deepEqual(warnings, []);
  });
});
