import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { McpGuardError } from '../../src/mcp/errors.js';
import { identityFromAuthInfo } from '../../src/mcp/identity.js';
import { ALICE, BOB, connectClient, INITIALIZE, rawPost, startGuardedServer, toolText, type GuardedServer } from './helpers.js';

const PROTOCOL = { 'mcp-protocol-version': '2025-06-18' };
const CLIENT = 'shared-desktop-client';

function info(extra?: Record<string, unknown>): AuthInfo {
  return { token: 't', clientId: CLIENT, scopes: [], ...(extra ? { extra } : {}) };
}

describe('identityFromAuthInfo', () => {
  it('takes the principal from the subject, qualified by the issuer', () => {
    assert.deepEqual(identityFromAuthInfo(info({ sub: 'user-1' })), { principal: 'user-1', emails: [] });
    assert.deepEqual(identityFromAuthInfo(info({ iss: 'https://idp.example', sub: 'user-1' })), { principal: 'https://idp.example|user-1', issuer: 'https://idp.example', emails: [] });
  });

  it('never falls back to the OAuth client id: a token without a subject is refused with 403 BEARER_PRINCIPAL_MISSING', () => {
    for (const extra of [undefined, {}, { sub: '' }, { sub: '   ' }, { sub: 42 }, { sub: null }, { iss: 'https://idp.example' }, { client_id: CLIENT }]) {
      assert.throws(
        () => identityFromAuthInfo(info(extra)),
        (err: unknown) => err instanceof McpGuardError && err.code === 'BEARER_PRINCIPAL_MISSING' && err.status === 403 && !err.message.includes(CLIENT),
        JSON.stringify(extra),
      );
    }
  });

  it('refuses a client credentials token, whose subject is the client id (RFC 9068 §2.2): it stands for no user', () => {
    assert.throws(
      () => identityFromAuthInfo(info({ sub: CLIENT })),
      (err: unknown) => err instanceof McpGuardError && err.code === 'BEARER_PRINCIPAL_MISSING' && err.status === 403 && !err.message.includes(CLIENT),
    );
    assert.throws(() => identityFromAuthInfo(info({ iss: 'https://idp.example', sub: CLIENT })), { code: 'BEARER_PRINCIPAL_MISSING' });
    // Other spellings of a client's own token: Auth0's `<client id>@clients` and `gty`, `azp` / `client_id` as the subject.
    for (const extra of [
      { iss: 'https://tenant.auth0.com/', sub: `${CLIENT}@clients`, gty: 'client-credentials', azp: CLIENT },
      { sub: 'svc-7', gty: 'client-credentials' },
      { sub: 'svc-7', grant_type: 'client_credentials' },
      { sub: 'backend-app', azp: 'backend-app' },
      { sub: 'backend-app', client_id: 'backend-app' },
    ]) {
      assert.throws(() => identityFromAuthInfo(info(extra)), { code: 'BEARER_PRINCIPAL_MISSING' }, JSON.stringify(extra));
    }
    // A user's token names the client in azp, and the user in sub.
    assert.equal(identityFromAuthInfo(info({ sub: 'user-1', azp: CLIENT, gty: 'password' })).principal, 'user-1');
    // An app whose service accounts are users says so itself.
    assert.equal(identityFromAuthInfo(info({ sub: CLIENT }), { principal: (authInfo) => `service:${authInfo.clientId}` }).principal, `service:${CLIENT}`);
  });

  it('takes the token’s own claims over the verifier’s clientId: a verifier that copies the user’s sub into clientId keeps its users', () => {
    const exp = Math.floor(Date.now() / 1000) + 3600;
    // Clerk / WorkOS verifiers seen in the wild: `clientId: payload.sub, extra: payload`; the token's azp names the app.
    const copied: AuthInfo = { token: 't', clientId: 'user_2abcDEF', scopes: [], expiresAt: exp, extra: { iss: 'https://clerk.app.example', sub: 'user_2abcDEF', azp: 'https://app.example' } };
    assert.equal(identityFromAuthInfo(copied).principal, 'https://clerk.app.example|user_2abcDEF');
  });

  it('refuses the app-only tokens of Microsoft Entra ID (idtyp: app) and Keycloak (a service-account user), whose subject is no client id', () => {
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const entra: AuthInfo = { token: 't', clientId: '11111111-2222-3333-4444-555555555555', scopes: [], expiresAt: exp, extra: { iss: 'https://login.microsoftonline.com/tid/v2.0', sub: 'aaaaaaaa-0000-0000-0000-000000000001', azp: '11111111-2222-3333-4444-555555555555', idtyp: 'app' } };
    const keycloak: AuthInfo = { token: 't', clientId: 'svc-client', scopes: [], expiresAt: exp, extra: { iss: 'https://kc.example/realms/r', sub: 'bbbbbbbb-0000-0000-0000-000000000002', azp: 'svc-client', preferred_username: 'service-account-svc-client' } };
    for (const token of [entra, keycloak]) assert.throws(() => identityFromAuthInfo(token), { code: 'BEARER_PRINCIPAL_MISSING' }, JSON.stringify(token.extra));
    // Their user tokens are users.
    assert.equal(identityFromAuthInfo({ ...entra, extra: { ...entra.extra, idtyp: 'user' } }).principal, 'https://login.microsoftonline.com/tid/v2.0|aaaaaaaa-0000-0000-0000-000000000001');
    assert.equal(identityFromAuthInfo({ ...keycloak, extra: { ...keycloak.extra, preferred_username: 'alice' } }).principal, 'https://kc.example/realms/r|bbbbbbbb-0000-0000-0000-000000000002');
  });

  it('uses the app’s principal(authInfo) instead, and refuses when it returns nothing or throws', () => {
    const byOid = (authInfo: AuthInfo) => (typeof authInfo.extra?.oid === 'string' ? `tenant|${authInfo.extra.oid}` : undefined);
    assert.equal(identityFromAuthInfo(info({ oid: 'o-7', sub: 'ignored' }), { principal: byOid }).principal, 'tenant|o-7');
    assert.throws(() => identityFromAuthInfo(info({ sub: 'user-1' }), { principal: byOid }), { code: 'BEARER_PRINCIPAL_MISSING' });
    assert.throws(() => identityFromAuthInfo(info({ sub: 'user-1' }), { principal: () => 'x'.repeat(513) }), { code: 'BEARER_PRINCIPAL_MISSING' });
    const refused = new McpGuardError('SESSION_OWNER_MISMATCH', 'Forbidden: unknown tenant.');
    assert.throws(() => identityFromAuthInfo(info({ sub: 'user-1' }), { principal: () => { throw refused; } }), (err: unknown) => err === refused);
    assert.throws(() => identityFromAuthInfo(info({ sub: 'user-1' }), { principal: () => { throw new Error('lookup failed'); } }), { code: 'BEARER_PRINCIPAL_MISSING' });
  });

  it('takes an email only when the issuer verified it (email_verified === true), or from the app', () => {
    assert.deepEqual(identityFromAuthInfo(info({ sub: 'u', email: ALICE.email })).emails, []);
    assert.deepEqual(identityFromAuthInfo(info({ sub: 'u', email: ALICE.email, email_verified: 'true' })).emails, []);
    assert.deepEqual(identityFromAuthInfo(info({ sub: 'u', email: ALICE.email, email_verified: true })).emails, [ALICE.email]);
    assert.deepEqual(identityFromAuthInfo(info({ sub: 'u', email: ALICE.email }), { emails: () => ['work@example.com'] }).emails, ['work@example.com']);
    assert.throws(() => identityFromAuthInfo(info({ sub: 'u' }), { emails: () => ['not-an-email'] }), TypeError);
  });
});

describe('MCP bearer identity over HTTP', () => {
  // The SDK's example verifiers: a valid token, one client id for every user, no subject.
  const tokens = new Map<string, AuthInfo>([
    ['alice-token', { token: 'alice-token', clientId: CLIENT, scopes: ['mcp'], extra: { email: ALICE.email } }],
    ['bob-token', { token: 'bob-token', clientId: CLIENT, scopes: ['mcp'], extra: { email: BOB.email } }],
  ]);
  const verifier = {
    async verifyAccessToken(token: string): Promise<AuthInfo> {
      const found = tokens.get(token);
      if (!found) throw new InvalidTokenError('Unknown token');
      return { ...found, expiresAt: Math.floor(Date.now() / 1000) + 3600 };
    },
  };
  // The old default, spelled out: the principal falls back to the client id, emails are taken unverified.
  const clientIdFallback = { principal: (authInfo: AuthInfo) => (authInfo.extra?.sub as string | undefined) ?? authInfo.clientId, emails: (authInfo: AuthInfo) => [authInfo.extra?.email as string] };

  async function stealAlicesSession(server: GuardedServer, alicePrincipal: string): Promise<{ status: number; text: string }> {
    await server.guard.vault.set(alicePrincipal, ALICE.email, ALICE.credential);
    const alice = await connectClient(server.endpoint, { headers: { authorization: 'Bearer alice-token' } });
    const stolen = await rawPost(
      server.endpoint,
      { ...PROTOCOL, 'mcp-session-id': alice.sessionId as string, authorization: 'Bearer bob-token' },
      { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'get_credentials', arguments: { email: ALICE.email } } },
    );
    await alice.close();
    const text = typeof stolen.body === 'string' ? stolen.body : JSON.stringify(stolen.body);
    return { status: stolen.status, text };
  }

  it('lets Bob’s bearer plus Alice’s stolen session id read Alice’s credential when the principal falls back to the client id (the attack)', async () => {
    const server = await startGuardedServer({ bearer: { verifier, ...clientIdFallback } });
    const { status, text } = await stealAlicesSession(server, CLIENT);
    assert.equal(status, 200);
    assert.ok(text.includes(ALICE.credential.access_token), 'the fallback must leak, or this test proves nothing');
    await server.close();
  });

  it('refuses a token without a subject by default: nothing is served and nothing is read', async () => {
    const server = await startGuardedServer({ bearer: { verifier } });
    const init = await rawPost(server.endpoint, { authorization: 'Bearer alice-token' }, INITIALIZE);
    assert.equal(init.status, 403);
    assert.deepEqual(init.body.error.message.includes('does not identify a user'), true);
    assert.equal(init.headers.get('mcp-session-id'), null);
    assert.equal(server.guard.size, 0);
    assert.equal(server.audit.of('bearer_identity_rejected').at(-1)?.reason, 'no_subject');
    assert.ok(!server.readAuditFile().includes('alice-token'));
    await server.close();
  });

  it('answers a token its verifier throws a plain Error for (a JWT library on garbage) with 401 invalid_token, not 500', async () => {
    const throwing = {
      async verifyAccessToken(token: string): Promise<AuthInfo> {
        if (token !== 'alice-token') throw new Error('jwt malformed');
        return { token, clientId: CLIENT, scopes: ['mcp'], expiresAt: Math.floor(Date.now() / 1000) + 3600, extra: { sub: 'alice' } };
      },
    };
    const server = await startGuardedServer({ bearer: { verifier: throwing } });
    try {
      const refused = await rawPost(server.endpoint, { authorization: 'Bearer not-a-jwt' }, INITIALIZE);
      assert.equal(refused.status, 401, JSON.stringify(refused.body));
      assert.match(refused.headers.get('www-authenticate') ?? '', /invalid_token/);
      assert.ok(!JSON.stringify(refused.body).includes('jwt malformed'), 'the verifier’s own message stays inside');
      const served = await rawPost(server.endpoint, { authorization: 'Bearer alice-token' }, INITIALIZE);
      assert.equal(served.status, 200);
    } finally {
      await server.close();
    }
  });

  it('keeps users of one client apart when the app maps tokens to users itself', async () => {
    const users: Record<string, string> = { 'alice-token': 'alice', 'bob-token': 'bob' };
    const server = await startGuardedServer({ bearer: { verifier, principal: (authInfo) => users[authInfo.token] } });
    const { status, text } = await stealAlicesSession(server, 'alice');
    assert.equal(status, 403);
    assert.ok(!text.includes(ALICE.credential.access_token));
    assert.equal(server.audit.of('session_owner_mismatch').at(-1)?.reason, 'bearer_principal_differs');
    const bob = await connectClient(server.endpoint, { headers: { authorization: 'Bearer bob-token' } });
    assert.equal(toolText(await bob.client.callTool({ name: 'whoami', arguments: {} })), 'bob');
    // An unverified email claim grants no account: Bob's token claims bob@… but the issuer never verified it.
    const read = await bob.client.callTool({ name: 'get_credentials', arguments: { email: BOB.email } });
    assert.equal(read.isError, true);
    await bob.close();
    await server.close();
  });
});

describe('MCP users of one OAuth client', () => {
  const CLIENT_ID = 'one-desktop-app';
  const subjects: Record<string, string> = { 'token-a': 'user-a', 'token-b': 'user-b' };
  const verifier = {
    async verifyAccessToken(token: string): Promise<AuthInfo> {
      const sub = subjects[token];
      if (!sub) throw new InvalidTokenError('Unknown token');
      return { token, clientId: CLIENT_ID, scopes: [], expiresAt: Math.floor(Date.now() / 1000) + 3600, extra: { sub } };
    },
  };
  const call = { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'whoami', arguments: {} } };

  it('do not evict each other under maxSessionsPerUser', async () => {
    const server = await startGuardedServer({ bearer: { verifier }, maxSessionsPerUser: 1 });
    try {
      const a = await connectClient(server.endpoint, { headers: { authorization: 'Bearer token-a' } });
      const b = await connectClient(server.endpoint, { headers: { authorization: 'Bearer token-b' } });
      assert.equal(toolText(await a.client.callTool({ name: 'whoami', arguments: {} })), 'user-a', 'a’s session survived b’s');
      assert.equal(server.audit.of('mcp_session_limit').length, 0);
      await Promise.all([a.close(), b.close()]);
    } finally {
      await server.close();
    }
  });

  it('do not share a rate limit: one user at the limit does not lock out the other', async () => {
    const server = await startGuardedServer({ bearer: { verifier }, rateLimit: { perIp: false, perPrincipal: { points: 3, window: '1m' } } });
    try {
      const a = await rawPost(server.endpoint, { authorization: 'Bearer token-a' }, INITIALIZE);
      const sid = a.headers.get('mcp-session-id') as string;
      const headers = { ...PROTOCOL, authorization: 'Bearer token-a', 'mcp-session-id': sid };
      assert.equal((await rawPost(server.endpoint, headers, call)).status, 200);
      assert.equal((await rawPost(server.endpoint, headers, call)).status, 200);
      assert.equal((await rawPost(server.endpoint, headers, call)).status, 429, 'user-a is at the limit');
      assert.equal((await rawPost(server.endpoint, { authorization: 'Bearer token-b' }, INITIALIZE)).status, 200, 'user-b is not');
    } finally {
      await server.close();
    }
  });
});
