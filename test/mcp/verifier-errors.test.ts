/**
 * What the bearer check answers when the app's token verifier throws: an OAuth error keeps its
 * status (from either SDK line, whichever copy threw it), any other error is a refused token
 * (401 invalid_token), and neither the verifier's message nor the token reaches the client or
 * the audit trail. And which tokens name a user at all.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServerError as LegacyServerError, InsufficientScopeError as LegacyInsufficientScope } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import type { AuthInfo as LegacyAuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { OAuthError, OAuthErrorCode, type AuthInfo, type OAuthTokenVerifier } from '@modelcontextprotocol/server';
import { McpGuardError } from '../../src/mcp/errors.js';
import { identityFromAuthInfo } from '../../src/mcp/identity.js';
import { INITIALIZE, rawPost, startGuardedServer } from '../mcp/helpers.js';
import { demoVerifier, startStatelessServer } from '../mcp/stateless/helpers.js';

const CLIENT = 'AbC123clientid';
const MODERN_WHOAMI = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' }, name: 'whoami', arguments: {} } };
const info = (extra: Record<string, unknown>): LegacyAuthInfo => ({ token: 't', clientId: CLIENT, scopes: ['mcp'], expiresAt: Math.floor(Date.now() / 1000) + 3600, extra });

describe('MCP bearer verification errors, both eras', () => {
  it('refuses an Auth0 client-credentials token (sub "<client_id>@clients", gty "client-credentials") like any other: it names no user', () => {
    // Auth0 issues M2M tokens with sub = `${client_id}@clients` and gty = 'client-credentials'; the verifier maps azp → clientId.
    assert.throws(
      () => identityFromAuthInfo(info({ iss: 'https://tenant.auth0.com/', sub: `${CLIENT}@clients`, azp: CLIENT, gty: 'client-credentials' })),
      (err: unknown) => err instanceof McpGuardError && err.code === 'BEARER_PRINCIPAL_MISSING',
      'the client is taken as the user "https://tenant.auth0.com/|AbC123clientid@clients"',
    );
  });

  it('stateless: a verifier outage reported with the v1 SDK ServerError (shared verifier code) stays a 500, not 401 invalid_token', async () => {
    const verifier: OAuthTokenVerifier = {
      async verifyAccessToken(token): Promise<AuthInfo> {
        if (token === 'outage') throw new LegacyServerError('introspection endpoint down');
        return demoVerifier.verifyAccessToken(token);
      },
    };
    const server = await startStatelessServer({ bearer: { verifier } });
    try {
      const answer = await rawPost(server.endpoint, { authorization: 'Bearer outage', 'mcp-protocol-version': '2026-07-28' }, MODERN_WHOAMI);
      assert.ok(!JSON.stringify(answer.body).includes('introspection endpoint down'));
      assert.equal(answer.status, 500, `an outage told the client its token is invalid: ${answer.status} ${answer.headers.get('www-authenticate')}`);
    } finally {
      await server.close();
    }
  });

  it('legacy: an outage the verifier reports with the 2.x SDK error class stays a 500', async () => {
    const verifier = {
      async verifyAccessToken(token: string): Promise<LegacyAuthInfo> {
        throw new OAuthError(OAuthErrorCode.ServerError, `introspection endpoint down for ${token}`);
      },
    };
    const server = await startGuardedServer({ bearer: { verifier } });
    try {
      assert.equal((await rawPost(server.endpoint, { authorization: 'Bearer outage' }, INITIALIZE)).status, 500);
    } finally {
      await server.close();
    }
  });

  it('legacy: OAuthErrors keep their status (insufficient_scope 403, server_error 500), and a plain Error leaks nothing', async () => {
    const verifier = {
      async verifyAccessToken(token: string): Promise<LegacyAuthInfo> {
        if (token === 'scope') throw new LegacyInsufficientScope('need more');
        if (token === 'outage') throw new LegacyServerError('down');
        throw new Error(`jwt malformed: ${token}`);
      },
    };
    const server = await startGuardedServer({ bearer: { verifier } });
    try {
      assert.equal((await rawPost(server.endpoint, { authorization: 'Bearer scope' }, INITIALIZE)).status, 403);
      assert.equal((await rawPost(server.endpoint, { authorization: 'Bearer outage' }, INITIALIZE)).status, 500);
      const garbage = await rawPost(server.endpoint, { authorization: 'Bearer SECRET-GARBAGE' }, INITIALIZE);
      assert.equal(garbage.status, 401);
      const everything = JSON.stringify(garbage.body) + (garbage.headers.get('www-authenticate') ?? '') + JSON.stringify(server.audit.events);
      assert.ok(!everything.includes('SECRET-GARBAGE') && !everything.includes('jwt malformed'));
    } finally {
      await server.close();
    }
  });

  it('stateless: v2 OAuthErrors keep their status and a plain Error leaks nothing', async () => {
    const verifier: OAuthTokenVerifier = {
      async verifyAccessToken(token): Promise<AuthInfo> {
        if (token === 'scope') throw new OAuthError(OAuthErrorCode.InsufficientScope, 'need more');
        if (token === 'outage') throw new OAuthError(OAuthErrorCode.ServerError, 'down');
        throw new Error(`jwt malformed: ${token}`);
      },
    };
    const server = await startStatelessServer({ bearer: { verifier } });
    try {
      const h = (t: string) => ({ authorization: `Bearer ${t}`, 'mcp-protocol-version': '2026-07-28' });
      assert.equal((await rawPost(server.endpoint, h('scope'), MODERN_WHOAMI)).status, 403);
      assert.equal((await rawPost(server.endpoint, h('outage'), MODERN_WHOAMI)).status, 500);
      const garbage = await rawPost(server.endpoint, h('SECRET-GARBAGE'), MODERN_WHOAMI);
      assert.equal(garbage.status, 401);
      const everything = JSON.stringify(garbage.body) + (garbage.headers.get('www-authenticate') ?? '') + JSON.stringify(server.audit.events);
      assert.ok(!everything.includes('SECRET-GARBAGE') && !everything.includes('jwt malformed'));
    } finally {
      await server.close();
    }
  });
});
