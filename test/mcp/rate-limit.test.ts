/**
 * The per-principal rate limit, mounted alone on a real Express app.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Request } from 'express';
import { createMcpRateLimiter, mcpPrincipalRateLimit } from '../../src/mcp/rate-limit.js';
import { postJson, withMcpMiddleware } from './helpers.js';

const userOf = (req: Request) => (typeof req.headers['x-user'] === 'string' ? req.headers['x-user'] : undefined);

describe('mcpPrincipalRateLimit', () => {
  it('lets one principal flood the endpoint when it is not mounted (the attack)', async () => {
    await withMcpMiddleware(
      (app) => app.post('/mcp', (_req, res) => void res.json({ ok: true })),
      async (url) => {
        const statuses = [];
        for (let i = 0; i < 5; i++) statuses.push((await postJson(url, {}, { 'x-user': 'mallory' })).status);
        assert.deepEqual(statuses, [200, 200, 200, 200, 200]);
      },
    );
  });

  it('charges each principal on its own, answers 429 with Retry-After past the limit, and audits it', async () => {
    await withMcpMiddleware(
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

