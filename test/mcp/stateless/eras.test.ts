import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createClient } from 'redis';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { OAuthError, OAuthErrorCode, type AuthInfo, type OAuthTokenVerifier } from '@modelcontextprotocol/server';
import { redisStateStore } from '../../../src/mcp/stateless/index.js';
import { redisUrl, uniquePrefix } from '../../redis/support.js';
import { ALICE, BOB, rawPost, toolText } from '../helpers.js';
import { CONFIRMED, NEXT_STATE_KEY, STATE_KEY, call, demoVerifier, modernClient, roundRobinFetch, startStatelessServer, type StatelessServer } from './helpers.js';

const MODERN_WHOAMI = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' }, name: 'whoami', arguments: {} } };
const MODERN_LIST = { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } } };
const FROZEN = { kind: 'error', code: -32602, message: 'Invalid or expired requestState' };

/** Alice's first round of `transfer`: the state the server sealed for her. */
async function aliceState(server: StatelessServer): Promise<string> {
  const alice = await modernClient(server.endpoint, 'alice-token');
  const first = await call(alice, 'transfer', { amount: 5 });
  await alice.close();
  assert.equal(first.kind, 'input_required');
  return (first as { requestState: string }).requestState;
}

function reasons(server: StatelessServer): (string | undefined)[] {
  return server.audit.events.filter((event) => event.type === 'request_state_rejected').map((event) => event.reason);
}

describe('MCP adapter, both protocol eras on SDK v2', () => {
  let server: StatelessServer;
  before(async () => {
    server = await startStatelessServer();
  });
  after(async () => {
    await server.close();
  });

  it('answers a 2026-07-28 request without a token with 401, the WWW-Authenticate challenge and discoverable resource metadata', async () => {
    const answer = await rawPost(server.endpoint, { 'mcp-protocol-version': '2026-07-28' }, MODERN_LIST);
    assert.equal(answer.status, 401);
    const challenge = answer.headers.get('www-authenticate') ?? '';
    assert.match(challenge, /^Bearer error="invalid_token"/);
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)?.[1];
    assert.equal(metadataUrl, 'http://127.0.0.1/.well-known/oauth-protected-resource/mcp');
    const metadata = await (await fetch(`${server.url}/.well-known/oauth-protected-resource/mcp`)).json();
    assert.deepEqual(metadata, { resource: 'http://127.0.0.1/mcp', authorization_servers: ['http://127.0.0.1/'] });
    await assert.rejects(modernClient(server.endpoint, undefined));
    await assert.rejects(modernClient(server.endpoint, 'forged-token'));
    assert.ok(server.audit.events.some((event) => event.type === 'mcp_bearer_rejected' && event.reason === 'missing'));
    assert.ok(!JSON.stringify(server.audit.events).includes('forged-token'), 'no token in the audit log');
  });

  it('refuses a token that names no user, although its OAuth client id is valid (no fallback to the client id)', async () => {
    const answer = await rawPost(server.endpoint, { authorization: 'Bearer no-subject-token', 'mcp-protocol-version': '2026-07-28' }, MODERN_LIST);
    assert.equal(answer.status, 403);
    assert.match(answer.body.error.message, /does not identify a user/);
    assert.equal(server.audit.events.at(-1)?.type, 'bearer_identity_rejected');
    assert.equal(server.audit.events.at(-1)?.reason, 'no_subject');
  });

  it('refuses a client credentials token (its subject is the OAuth client id, RFC 9068 §2.2): no user, so nothing is served', async () => {
    const verifier: OAuthTokenVerifier = {
      async verifyAccessToken(token): Promise<AuthInfo> {
        if (token !== 'cc-token') throw new OAuthError(OAuthErrorCode.InvalidToken, 'unknown token');
        return { token, clientId: 'shared-client', scopes: ['mcp'], expiresAt: Math.floor(Date.now() / 1000) + 3600, extra: { sub: 'shared-client' } };
      },
    };
    const byClient = await startStatelessServer({ bearer: { verifier } });
    try {
      const answer = await rawPost(byClient.endpoint, { authorization: 'Bearer cc-token', 'mcp-protocol-version': '2026-07-28' }, MODERN_WHOAMI);
      assert.equal(answer.status, 403, JSON.stringify(answer.body));
      assert.match(answer.body.error.message, /does not identify a user/);
      assert.equal(byClient.audit.events.at(-1)?.type, 'bearer_identity_rejected');
      // Through the real v2 client as well: no call is answered as "shared-client".
      const client = await modernClient(byClient.endpoint, 'cc-token').catch(() => undefined);
      const outcome = client ? await call(client, 'whoami', {}) : undefined;
      await client?.close();
      assert.ok(outcome === undefined || outcome.kind === 'error', JSON.stringify(outcome));
    } finally {
      await byClient.close();
    }
  });

  it('answers a token its verifier throws a plain Error for (a JWT library on garbage) with 401 invalid_token, not 500', async () => {
    const verifier: OAuthTokenVerifier = {
      async verifyAccessToken(token): Promise<AuthInfo> {
        if (token !== 'alice-token') throw new Error('jwt malformed');
        return demoVerifier.verifyAccessToken(token);
      },
    };
    const throwing = await startStatelessServer({ bearer: { verifier } });
    try {
      const answer = await rawPost(throwing.endpoint, { authorization: 'Bearer not-a-jwt', 'mcp-protocol-version': '2026-07-28' }, MODERN_WHOAMI);
      assert.equal(answer.status, 401, JSON.stringify(answer.body));
      assert.match(answer.headers.get('www-authenticate') ?? '', /^Bearer error="invalid_token"/);
      assert.ok(!JSON.stringify(answer.body).includes('jwt malformed'), 'the verifier’s own message stays inside');
      assert.equal(throwing.audit.events.at(-1)?.reason, 'verifier_error');
      const alice = await modernClient(throwing.endpoint, 'alice-token');
      assert.deepEqual(await call(alice, 'whoami', {}), { kind: 'result', text: 'alice', isError: false });
      await alice.close();
    } finally {
      await throwing.close();
    }
  });

  it('answers a body nested deeper than 64 levels with 400, before era routing and before the token (no stack overflow, no 500)', async () => {
    const deep = (depth: number) => `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"name":"whoami","arguments":{"x":${'['.repeat(depth)}${']'.repeat(depth)}}}}`;
    const post = (headers: Record<string, string>, body: string) =>
      fetch(server.endpoint, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', ...headers }, body });
    // 400 kB of nesting, under the 1 MB body limit: without a token (era routing walks it first)
    // and with one (the request's hash walks the arguments).
    for (const headers of [{}, { authorization: 'Bearer bob-token' }] as Array<Record<string, string>>) {
      const answer = await post(headers, deep(200_000));
      assert.equal(answer.status, 400);
      assert.deepEqual(((await answer.json()) as { error?: unknown }).error, { code: -32600, message: 'Invalid Request: the body nests deeper than 64 levels.' });
    }
    const shallow = await post({}, deep(2));
    assert.equal(shallow.status, 401, 'a shallow body goes on to the token check');
    let nested: unknown[] = [];
    for (let i = 0; i < 50; i++) nested = [nested];
    const bob = await modernClient(server.endpoint, 'bob-token');
    assert.deepEqual(await call(bob, 'whoami', { x: nested }), { kind: 'result', text: 'bob', isError: false }, 'tool arguments nested 50 levels are served');
    await bob.close();
  });

  it('serves each principal as itself, per request, with the credential ACL of both eras', async () => {
    const alice = await modernClient(server.endpoint, 'alice-token');
    const bob = await modernClient(server.endpoint, 'bob-token');
    assert.equal(alice.getNegotiatedProtocolVersion(), '2026-07-28');
    assert.deepEqual(await call(alice, 'whoami', {}), { kind: 'result', text: 'alice', isError: false });
    assert.deepEqual(await call(bob, 'whoami', {}), { kind: 'result', text: 'bob', isError: false });
    const own = await call(alice, 'get_credentials', { email: ALICE.email });
    assert.match((own as { text: string }).text, /ALICE-SECRET-ACCESS/);
    assert.deepEqual(await call(alice, 'get_credentials', { email: BOB.email }), { kind: 'result', text: 'Permission denied: this session is not authorized for that account.', isError: true });
    assert.ok(server.audit.events.some((event) => event.type === 'unauthorized_credential_access' && event.principal === 'alice'));
    const mallory = await modernClient(server.endpoint, 'mallory-token');
    assert.deepEqual(await call(mallory, 'get_credentials', { email: ALICE.email }), { kind: 'result', text: 'Permission denied: this session is not authorized for that account.', isError: true }, 'an unverified email claim grants nothing');
    await Promise.all([alice.close(), bob.close(), mallory.close()]);
  });

  it("completes alice's two-round call with her requestState, and refuses it replayed under bob's token", async () => {
    const alice = await modernClient(server.endpoint, 'alice-token');
    const first = await call(alice, 'transfer', { amount: 5 });
    assert.equal(first.kind, 'input_required');
    const state = (first as { requestState: string }).requestState;
    assert.deepEqual(await call(alice, 'transfer', { amount: 5 }, { requestState: state, ...CONFIRMED }), { kind: 'result', text: 'transferred 5 for alice after round 1', isError: false });

    const bob = await modernClient(server.endpoint, 'bob-token');
    assert.deepEqual(await call(bob, 'transfer', { amount: 5 }, { requestState: state, ...CONFIRMED }), FROZEN);
    assert.equal(reasons(server).at(-1), 'principal_mismatch');
    await Promise.all([alice.close(), bob.close()]);
  });

  it('gives one frozen answer for a tampered, an expired and a misdirected state; the reasons are only in the audit log', async () => {
    const alice = await modernClient(server.endpoint, 'alice-token');
    const state = await aliceState(server);
    const flipped = state.slice(0, 20) + (state[20] === 'A' ? 'B' : 'A') + state.slice(21);
    assert.deepEqual(await call(alice, 'transfer', { amount: 5 }, { requestState: flipped, ...CONFIRMED }), FROZEN);
    assert.deepEqual(await call(alice, 'whoami', {}, { requestState: state }), FROZEN, 'a state for transfer is not a state for whoami');
    assert.deepEqual(await call(alice, 'transfer', { amount: 500 }, { requestState: state, ...CONFIRMED }), FROZEN, 'nor for a transfer of another amount');
    assert.deepEqual(await call(alice, 'transfer', { amount: 5 }, { requestState: 42, ...CONFIRMED }), FROZEN);
    server.clock.advance('11m');
    assert.deepEqual(await call(alice, 'transfer', { amount: 5 }, { requestState: state, ...CONFIRMED }), FROZEN);
    assert.deepEqual(reasons(server).slice(-5), ['integrity', 'request_mismatch', 'request_mismatch', 'malformed', 'expired']);
    assert.ok(!JSON.stringify(server.audit.events).includes(state.slice(10, 40)), 'no state in the audit log');
    await alice.close();
  });

  it("addresses nothing with alice's state handle under bob's token, and audits the attempt", async () => {
    const alice = await modernClient(server.endpoint, 'alice-token');
    const bob = await modernClient(server.endpoint, 'bob-token');
    const handle = ((await call(alice, 'save_draft', { text: 'ALICE-DRAFT' })) as { text: string }).text;
    assert.deepEqual(await call(bob, 'load_draft', { handle }), { kind: 'result', text: 'no such draft', isError: false });
    assert.equal(server.audit.events.at(-1)?.type, 'state_handle_cross_principal');
    assert.deepEqual(await call(alice, 'load_draft', { handle }), { kind: 'result', text: 'ALICE-DRAFT', isError: false });
    await Promise.all([alice.close(), bob.close()]);
  });

  it('answers bad bodies and foreign origins with 4xx before any identity work, never 500', async () => {
    const base = { accept: 'application/json, text/event-stream', authorization: 'Bearer alice-token' };
    const post = (headers: Record<string, string>, body: string) => fetch(server.endpoint, { method: 'POST', headers: { ...base, ...headers }, body });
    assert.equal((await post({ 'content-type': 'text/plain' }, '{}')).status, 415);
    assert.equal((await post({ 'content-type': 'application/json' }, '{"jsonrpc":')).status, 400);
    assert.equal((await post({ 'content-type': 'application/json', 'content-encoding': 'gzip' }, 'not gzip at all')).status, 400);
    assert.equal((await post({ 'content-type': 'application/json', 'content-encoding': 'compress' }, '{}')).status, 415);
    const envelope = MODERN_LIST.params;
    const batch = await post({ 'content-type': 'application/json', 'mcp-protocol-version': '2026-07-28' }, JSON.stringify([MODERN_LIST, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { ...envelope, name: 'transfer', arguments: { amount: 9 }, requestState: 'forged' } }]));
    assert.equal(batch.status, 400, 'no batch carries a state past the check');
    const foreign = await post({ 'content-type': 'application/json', origin: 'https://evil.example.com' }, JSON.stringify(MODERN_LIST));
    assert.equal(foreign.status, 403);
    assert.equal(server.audit.events.at(-1)?.type, 'origin_rejected');
  });

  it('refuses a Host that is not the resource (DNS rebinding), and serves it with the check turned off', async () => {
    // fetch always sends the URL's own Host; node:http sends what the rebinding page's browser would.
    const postAs = (endpoint: URL, host: string) =>
      new Promise<number>((resolve, reject) => {
        const body = JSON.stringify(MODERN_LIST);
        const req = request(endpoint, { method: 'POST', headers: { host, 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: 'Bearer alice-token', 'content-length': Buffer.byteLength(body) } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.once('error', reject);
        req.end(body);
      });
    assert.equal(await postAs(server.endpoint, 'evil.example.com'), 403);
    assert.equal(server.audit.events.at(-1)?.type, 'host_rejected');
    assert.notEqual(await postAs(server.endpoint, `127.0.0.1:${server.endpoint.port}`), 403, 'the resource host passes');
    const open = await startStatelessServer({ allowedHosts: false });
    try {
      assert.notEqual(await postAs(open.endpoint, 'evil.example.com'), 403, 'the attack reaches the server without the check');
    } finally {
      await open.close();
    }
  });

  it("refuses 2025-era requests on an endpoint without a legacy handler with no process warning each: the refusal is the client's", async () => {
    const strict = await startStatelessServer({ legacy: 'reject' });
    const warnings: string[] = [];
    const onWarning = (warning: Error) => void warnings.push(warning.message);
    process.on('warning', onWarning);
    try {
      const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'old', version: '1' } } };
      const list = { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} };
      for (const body of [initialize, list]) {
        const refused = await rawPost(strict.endpoint, { authorization: 'Bearer alice-token', 'mcp-protocol-version': '2025-06-18' }, body);
        assert.ok(refused.status >= 400 && refused.status < 500, `a 2025-era ${body.method} is refused with a 4xx, got ${refused.status}`);
      }
      // A modern request on the same endpoint is still served.
      const alice = await modernClient(strict.endpoint, 'alice-token');
      assert.deepEqual(await call(alice, 'whoami', {}), { kind: 'result', text: 'alice', isError: false });
      await alice.close();
      // process.emitWarning emits on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(
        warnings.filter((message) => message.startsWith('fixation-guard/mcp')),
        [],
      );
    } finally {
      process.off('warning', onWarning);
      await strict.close();
    }
  });

  it('serves a 2025 sessionful client on the same endpoint through the session guard (isLegacyRequest)', async () => {
    const legacy = new LegacyClient({ name: 'legacy-client', version: '1.0.0' });
    const transport = new LegacyTransport(server.endpoint);
    await legacy.connect(transport);
    assert.match(transport.sessionId ?? '', /^[0-9a-f-]{36}$/, 'a server-generated session id');
    assert.equal(toolText(await legacy.callTool({ name: 'whoami', arguments: {} })), 'anonymous');
    // A modern client on the same URL at the same time is its own principal, with no session at all.
    const alice = await modernClient(server.endpoint, 'alice-token');
    assert.deepEqual(await call(alice, 'whoami', {}), { kind: 'result', text: 'alice', isError: false });
    const stolen = await rawPost(server.endpoint, { 'mcp-session-id': '00000000-0000-4000-8000-000000000000' });
    assert.equal(stolen.status, 404, 'an unknown 2025 session id is still 404');
    await Promise.all([legacy.close(), alice.close()]);
  });
});

describe('MCP adapter, 2026-07-28 state across instances and keys', () => {
  it('opens states sealed before a key rotation while the old key is kept, and refuses them once it is removed', async () => {
    const before = await startStatelessServer();
    const during = await startStatelessServer({ requestState: { keys: [{ id: 'k2', secret: NEXT_STATE_KEY }, { id: 'k1', secret: STATE_KEY }] } });
    const after = await startStatelessServer({ requestState: { keys: [{ id: 'k2', secret: NEXT_STATE_KEY }] } });
    try {
      const state = await aliceState(before);
      const aliceDuring = await modernClient(during.endpoint, 'alice-token');
      const aliceAfter = await modernClient(after.endpoint, 'alice-token');
      assert.equal((await call(aliceDuring, 'transfer', { amount: 5 }, { requestState: state, ...CONFIRMED })).kind, 'result');
      assert.deepEqual(await call(aliceAfter, 'transfer', { amount: 5 }, { requestState: state, ...CONFIRMED }), FROZEN);
      assert.equal(reasons(after).at(-1), 'unknown_key');
      await Promise.all([aliceDuring.close(), aliceAfter.close()]);
    } finally {
      await Promise.all([before.close(), during.close(), after.close()]);
    }
  });

  it('lets a state be replayed without single use, and refuses the replay on any instance with single use on Redis (round robin, no sticky routing)', async () => {
    const reusable = await startStatelessServer();
    const prefix = uniquePrefix('mcp-fleet');
    const clients = [createClient({ url: redisUrl() }), createClient({ url: redisUrl() })];
    await Promise.all(clients.map((client) => client.connect()));
    const fleet = await Promise.all(
      clients.map((client) =>
        startStatelessServer({
          requestState: { keys: [{ id: 'k1', secret: STATE_KEY }], singleUse: { redis: client, keyPrefix: `${prefix}used:` } },
          stateStore: redisStateStore({ client, keyPrefix: `${prefix}state:` }),
        }),
      ),
    );
    try {
      const state = await aliceState(reusable);
      const alice = await modernClient(reusable.endpoint, 'alice-token');
      assert.equal((await call(alice, 'transfer', { amount: 5 }, { requestState: state, ...CONFIRMED })).kind, 'result');
      assert.equal((await call(alice, 'transfer', { amount: 5 }, { requestState: state, ...CONFIRMED })).kind, 'result', 'the replay works without single use');
      await alice.close();

      const [a, b] = fleet as [StatelessServer, StatelessServer];
      const onA = await modernClient(a.endpoint, 'alice-token');
      const onB = await modernClient(b.endpoint, 'alice-token');
      const sealed = await aliceState(a);
      assert.deepEqual(await call(onB, 'transfer', { amount: 5 }, { requestState: sealed, ...CONFIRMED }), { kind: 'result', text: 'transferred 5 for alice after round 1', isError: false });
      assert.deepEqual(await call(onA, 'transfer', { amount: 5 }, { requestState: sealed, ...CONFIRMED }), FROZEN);
      assert.equal(reasons(a).at(-1), 'replayed');
      const handle = ((await call(onA, 'save_draft', { text: 'FLEET-DRAFT' })) as { text: string }).text;
      assert.deepEqual(await call(onB, 'load_draft', { handle }), { kind: 'result', text: 'FLEET-DRAFT', isError: false });
      await Promise.all([onA.close(), onB.close()]);

      // One client behind a round-robin balancer: every request may land on either instance.
      const balancer = roundRobinFetch([a.endpoint, b.endpoint]);
      const roaming = await modernClient(a.endpoint, 'alice-token', balancer.fetch);
      const round1 = await call(roaming, 'transfer', { amount: 7 });
      assert.equal(round1.kind, 'input_required');
      const retry = { requestState: (round1 as { requestState: string }).requestState, ...CONFIRMED };
      assert.deepEqual(await call(roaming, 'transfer', { amount: 7 }, retry), { kind: 'result', text: 'transferred 7 for alice after round 1', isError: false });
      const note = ((await call(roaming, 'save_draft', { text: 'ROAMING' })) as { text: string }).text;
      assert.deepEqual(await call(roaming, 'load_draft', { handle: note }), { kind: 'result', text: 'ROAMING', isError: false });
      assert.deepEqual(await call(roaming, 'transfer', { amount: 7 }, retry), FROZEN, 'and the replay is refused wherever it lands');
      assert.ok(balancer.hits.every((count) => count >= 2), `both instances served (${balancer.hits.join(' / ')})`);
      await roaming.close();
    } finally {
      await Promise.all([reusable.close(), ...fleet.map((instance) => instance.close())]);
      await Promise.all(clients.map((client) => client.close()));
    }
  });

  it("shows why the principal must not be the OAuth client id: with it, bob opens alice's state", async () => {
    const byClient = await startStatelessServer({ bearer: { verifier: demoVerifier, principal: (info) => info.clientId } });
    try {
      const state = await aliceState(byClient);
      const bob = await modernClient(byClient.endpoint, 'bob-token');
      assert.equal((await call(bob, 'transfer', { amount: 5 }, { requestState: state, ...CONFIRMED })).kind, 'result', 'one client id, one "user": the attack works');
      await bob.close();
    } finally {
      await byClient.close();
    }
  });
});
