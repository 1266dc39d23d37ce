import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { memorySink } from '../../src/audit/index.js';
import { bearerIdentityOf, mcpBearerIdentity } from '../../src/mcp/bearer.js';
import { mcpErrorHandler } from '../../src/mcp/http.js';
import type { McpBearerOptions } from '../../src/mcp/index.js';
import { withExpressApp } from './helpers.js';

const CLIENT = 'shared-client';
const TOKENS = new Map<string, Omit<AuthInfo, 'expiresAt'>>([
  ['alice-token', { token: 'alice-token', clientId: CLIENT, scopes: ['mcp'], extra: { sub: 'alice', email: 'alice@example.com', email_verified: true } }],
  ['no-subject-token', { token: 'no-subject-token', clientId: CLIENT, scopes: ['mcp'], extra: {} }],
]);
const verifier = {
  async verifyAccessToken(token: string): Promise<AuthInfo> {
    const found = TOKENS.get(token);
    if (!found) throw new InvalidTokenError('Unknown token');
    return { ...found, expiresAt: Math.floor(Date.now() / 1000) + 3600 };
  },
};

/** The identity middleware alone, in front of a route that answers what it proved. */
function withIdentityApp(bearer: Partial<McpBearerOptions>, body: (url: string, audit: ReturnType<typeof memorySink>) => Promise<void>): Promise<void> {
  return withExpressApp((app, auditor) => {
    app.all('/mcp', mcpBearerIdentity({ bearer: { verifier, ...bearer }, auditor }), function proved(req, res) {
      res.json({ identity: bearerIdentityOf(req) ?? null });
    });
    app.use('/mcp', mcpErrorHandler());
  }, body);
}

const post = (url: string, token?: string) => fetch(url, { method: 'POST', headers: token ? { authorization: `Bearer ${token}` } : {} });

describe('mcpBearerIdentity', () => {
  it('turns a verified token into the user its subject names, with only verified emails', async () => {
    await withIdentityApp({}, async (url) => {
      const answer = await post(url, 'alice-token');
      assert.equal(answer.status, 200);
      assert.deepEqual(await answer.json(), { identity: { principal: 'alice', emails: ['alice@example.com'] } });
    });
  });

  it('lets the SDK answer a missing or unknown token (401 + WWW-Authenticate), and audits it without the token', async () => {
    await withIdentityApp({ resourceMetadataUrl: 'https://mcp.example.com/.well-known/oauth-protected-resource' }, async (url, audit) => {
      const missing = await post(url);
      assert.equal(missing.status, 401);
      assert.match(missing.headers.get('www-authenticate') ?? '', /^Bearer .*resource_metadata="https:\/\/mcp\.example\.com/);
      const unknown = await post(url, 'stolen-or-forged');
      assert.equal(unknown.status, 401);
      assert.deepEqual(audit.of('invalid_token_signature').map((event) => [event.reason, event.detail?.status]), [['bearer_rejected', 401], ['bearer_rejected', 401]]);
      assert.ok(!JSON.stringify(audit.events).includes('stolen-or-forged'));
    });
  });

  it('refuses a verified token that names no user with 403 BEARER_PRINCIPAL_MISSING, never the client id as the user', async () => {
    await withIdentityApp({}, async (url, audit) => {
      const answer = await post(url, 'no-subject-token');
      assert.equal(answer.status, 403);
      const body = (await answer.json()) as { error: { code: number; message: string } };
      assert.equal(body.error.code, -32000);
      assert.ok(!body.error.message.includes(CLIENT));
      assert.equal(audit.of('bearer_identity_rejected').at(-1)?.reason, 'no_subject');
    });
  });

  it('serves the client id as the user when an app maps it so (the attack the default refuses)', async () => {
    await withIdentityApp({ principal: (authInfo) => (authInfo.extra?.sub as string | undefined) ?? authInfo.clientId }, async (url) => {
      assert.deepEqual(await (await post(url, 'no-subject-token')).json(), { identity: { principal: CLIENT, emails: [] } });
    });
  });

  it('passes a request without a bearer when bearer tokens are optional, with no identity', async () => {
    await withIdentityApp({ required: false }, async (url, audit) => {
      assert.deepEqual(await (await post(url)).json(), { identity: null });
      assert.equal(audit.events.length, 0);
    });
  });
});
