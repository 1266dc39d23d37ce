/**
 * Channels opened before a session was (re-)authorized must not inherit the new rights.
 *
 * The attack: the attacker calls `initialize`, gets session S, and plants S on the victim (or
 * just waits for the victim's OAuth callback to authorize it). Before S is authorized he opens
 * (a) a tool call that waits, or (b) the GET notification stream. When the callback authorizes S
 * for alice, the waiting call must not read alice's credentials and the stream must not carry
 * alice's traffic: every request proves an identity and a generation when it arrives, and only
 * that proof counts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { PermissionError, type McpSession } from '../../src/mcp/index.js';
import { ALICE, connectClient, credentialServerFactory, INITIALIZE, login, rawPost, startGuardedServer, toolText, type GuardedServer } from './helpers.js';

const PROTOCOL = { 'mcp-protocol-version': '2025-06-18' };

interface Deferred<T = void> {
  promise: Promise<T>;
  resolve(value: T): void;
}

function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

interface GatedOutcome {
  aborted: boolean;
  principal: string | undefined;
  authenticated: boolean;
  credential?: unknown;
  error?: unknown;
}

/** What the test server exposes to the test: each session's server and handle, and a gate for the waiting tool. */
interface Harness {
  servers: Map<string, McpServer>;
  handles: Map<string, McpSession>;
  started: Deferred;
  gate: Deferred;
  finished: Deferred<GatedOutcome>;
  reset(): void;
}

function createHarness(): Harness {
  const harness: Harness = {
    servers: new Map(),
    handles: new Map(),
    started: deferred(),
    gate: deferred(),
    finished: deferred<GatedOutcome>(),
    reset() {
      harness.started = deferred();
      harness.gate = deferred();
      harness.finished = deferred<GatedOutcome>();
    },
  };
  return harness;
}

/** The helpers' credential server plus a tool that waits for the test before it reads a credential. */
function gatedServerFactory(harness: Harness) {
  const base = credentialServerFactory();
  return async function createGatedServer(session: McpSession): Promise<McpServer> {
    const server = await base(session);
    harness.servers.set(session.id, server);
    harness.handles.set(session.id, session);
    server.registerTool(
      'gated_get_credentials',
      { description: 'Waits for the test, then returns the stored credential of an account', inputSchema: { email: z.string() } },
      async function gatedGetCredentials({ email }, extra) {
        harness.started.resolve();
        await harness.gate.promise;
        const outcome: GatedOutcome = { aborted: extra.signal.aborted, principal: session.principal, authenticated: session.authenticated };
        try {
          outcome.credential = await session.getCredential(email);
        } catch (err) {
          outcome.error = err;
        }
        harness.finished.resolve(outcome);
        if (outcome.error) throw outcome.error;
        return { content: [{ type: 'text' as const, text: JSON.stringify(outcome.credential) }] };
      },
    );
    server.registerTool(
      'get_credentials_of_session',
      { description: 'Reads a credential through another session’s handle (what a careless app might do)', inputSchema: { session: z.string(), email: z.string() } },
      async function getCredentialsOfSession({ session: other, email }) {
        const credential = await harness.handles.get(other)?.getCredential(email);
        return { content: [{ type: 'text' as const, text: JSON.stringify(credential ?? null) }] };
      },
    );
    return server;
  };
}

/** The victim's OAuth callback authorizing session `sessionId` for alice; the attacker never sees the token. */
async function victimAuthorizes(server: GuardedServer, sessionId: string): Promise<string> {
  const response = await fetch(`${server.url}/auth/test-login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'mcp-session-id': sessionId },
    body: JSON.stringify({ user: 'alice' }),
  });
  assert.equal(response.status, 200, await response.clone().text());
  return ((await response.json()) as { token: string }).token;
}

interface EventStream {
  status: number;
  readonly text: string;
  readonly ended: boolean;
  /** Waits until `condition` holds or `ms` pass; returns whether it held. */
  until(condition: () => boolean, ms: number): Promise<boolean>;
  close(): void;
}

/** Opens the standalone GET SSE stream of a session and collects what it receives. */
async function openEventStream(endpoint: URL, headers: Record<string, string>): Promise<EventStream> {
  const controller = new AbortController();
  const response = await fetch(endpoint, {
    method: 'GET',
    headers: { accept: 'text/event-stream', 'user-agent': 'test-agent/1.0', ...PROTOCOL, ...headers },
    signal: controller.signal,
  });
  const state = { text: '', ended: false };
  const reader = response.body?.getReader();
  if (!reader || response.status !== 200) state.ended = true;
  else {
    const decoder = new TextDecoder();
    void (async function pump() {
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          state.text += decoder.decode(value, { stream: true });
        }
      } catch {
        // aborted by close()
      }
      state.ended = true;
    })();
  }
  return {
    status: response.status,
    get text() {
      return state.text;
    },
    get ended() {
      return state.ended;
    },
    async until(condition, ms) {
      const deadline = Date.now() + ms;
      while (!condition()) {
        if (Date.now() >= deadline) return false;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return true;
    },
    close() {
      controller.abort();
    },
  };
}

async function settle<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  try {
    return { value: await promise };
  } catch (error) {
    return { error };
  }
}

for (const jsonResponse of [false, true]) {
  describe(`MCP authorization generations (${jsonResponse ? 'JSON' : 'SSE'} responses)`, () => {
    let server: GuardedServer;
    const harness = createHarness();
    before(async () => {
      server = await startGuardedServer({ createServer: gatedServerFactory(harness), jsonResponse });
    });
    after(async () => {
      await server.close();
    });

    it('does not let a tool call started before authorization read the victim’s credentials afterwards (attack a)', async () => {
      harness.reset();
      const attacker = await connectClient(server.endpoint, { name: 'attacker' });
      const sessionId = attacker.sessionId as string;
      const call = settle(attacker.client.callTool({ name: 'gated_get_credentials', arguments: { email: ALICE.email } }));
      await harness.started.promise; // the attacker's call is in flight, proved as "anonymous, generation 0"
      await victimAuthorizes(server, sessionId); // the victim's callback authorizes the attacker's session
      harness.gate.resolve();

      const answered = await call;
      const seen = JSON.stringify(answered.value ?? null) + String(answered.error);
      assert.ok(!seen.includes(ALICE.credential.access_token) && !seen.includes(ALICE.credential.refresh_token), `the attacker received alice's credential: ${seen}`);
      assert.ok(answered.error, 'the stale call is answered with an error');
      assert.match(String(answered.error), /authoriz/i);

      const outcome = await harness.finished.promise;
      assert.equal(outcome.credential, undefined);
      assert.ok(outcome.error instanceof PermissionError, `getCredential must throw PermissionError, got ${String(outcome.error)}`);
      assert.equal(outcome.aborted, true, 'the handler’s AbortSignal fired when the session was authorized');
      assert.equal(outcome.principal, undefined, 'the stale call sees the identity it proved (none), not alice');
      assert.equal(outcome.authenticated, false);

      const denied = server.audit.of('unauthorized_credential_access').at(-1);
      assert.equal(denied?.reason, 'authorization_superseded');
      assert.equal(denied?.session, server.guard.auditor.hash(sessionId));
      assert.equal(server.audit.of('session_token_mismatch').at(-1)?.reason, 'request_superseded');
      assert.equal(server.audit.of('credential_access_granted').length, 0, 'no credential was read at all');
      await attacker.close();
    });

    it('cancels calls of the previous generation when the same principal authorizes again', async () => {
      harness.reset();
      const a = await connectClient(server.endpoint);
      await login(server, a);
      const call = settle(a.client.callTool({ name: 'gated_get_credentials', arguments: { email: ALICE.email } }));
      await harness.started.promise;
      const before = server.audit.of('unauthorized_credential_access').length;
      await login(server, a); // new token, generation 2; the call above proved generation 1
      harness.gate.resolve();
      const answered = await call;
      assert.ok(answered.error, 'the superseded call fails');
      const outcome = await harness.finished.promise;
      assert.ok(outcome.error instanceof PermissionError);
      assert.equal(outcome.aborted, true);
      assert.equal(outcome.authenticated, false);
      assert.equal(server.audit.of('unauthorized_credential_access').length, before + 1);
      // The client retries with the current token and succeeds.
      assert.equal(toolText(await a.client.callTool({ name: 'get_credentials', arguments: { email: ALICE.email } })), JSON.stringify(ALICE.credential));
      await a.close();
    });

    it('refuses credential reads through another session’s handle from inside a request', async () => {
      const alice = await connectClient(server.endpoint);
      await login(server, alice);
      const attacker = await connectClient(server.endpoint, { name: 'attacker' });
      const result = await attacker.client.callTool({ name: 'get_credentials_of_session', arguments: { session: alice.sessionId as string, email: ALICE.email } });
      assert.equal(result.isError, true);
      assert.ok(!toolText(result).includes(ALICE.credential.access_token));
      assert.equal(server.audit.of('unauthorized_credential_access').at(-1)?.reason, 'request_for_other_session');
      // The app's own code, outside any request, still reads through the handle.
      assert.deepEqual(await harness.handles.get(alice.sessionId as string)?.getCredential(ALICE.email), ALICE.credential);
      await Promise.all([alice.close(), attacker.close()]);
    });
  });
}

describe('MCP notification stream across authorization', () => {
  let server: GuardedServer;
  const harness = createHarness();
  before(async () => {
    server = await startGuardedServer({ createServer: gatedServerFactory(harness) });
  });
  after(async () => {
    await server.close();
  });

  it('closes a GET stream opened before authorization, so it never carries the victim’s notifications (attack b)', async () => {
    const init = await rawPost(server.endpoint, {}, INITIALIZE);
    assert.equal(init.status, 200);
    const sessionId = init.headers.get('mcp-session-id') as string;
    const stream = await openEventStream(server.endpoint, { 'mcp-session-id': sessionId });
    assert.equal(stream.status, 200, 'an unauthenticated session may listen for its own notifications');

    await victimAuthorizes(server, sessionId);
    const closed = await stream.until(() => stream.ended, 1000);
    harness.servers.get(sessionId)?.sendToolListChanged(); // traffic of alice's session
    await stream.until(() => stream.text.includes('list_changed'), 300);
    assert.ok(!stream.text.includes('notifications/tools/list_changed'), 'the attacker’s stream received alice’s notification');
    assert.equal(closed, true, 'the pre-authorization stream is closed when the session is authorized');

    // Reopening it without the token is refused.
    const reopened = await openEventStream(server.endpoint, { 'mcp-session-id': sessionId });
    assert.equal(reopened.status, 401);
    stream.close();
  });

  it('closes it too when a bearer request is what authorizes the session', async () => {
    const verifier = {
      async verifyAccessToken(token: string): Promise<AuthInfo> {
        if (token !== 'alice-bearer') throw new InvalidTokenError('Unknown token');
        return { token, clientId: 'client-a', scopes: [], expiresAt: Math.floor(Date.now() / 1000) + 3600, extra: { iss: 'https://idp.example', sub: 'user-1', email: ALICE.email } };
      },
    };
    const bearerHarness = createHarness();
    const bearerServer = await startGuardedServer({ bearer: { verifier, required: false }, createServer: gatedServerFactory(bearerHarness) });
    const init = await rawPost(bearerServer.endpoint, {}, INITIALIZE);
    const sessionId = init.headers.get('mcp-session-id') as string;
    const stream = await openEventStream(bearerServer.endpoint, { 'mcp-session-id': sessionId });
    assert.equal(stream.status, 200);

    const victim = await rawPost(bearerServer.endpoint, { ...PROTOCOL, 'mcp-session-id': sessionId, authorization: 'Bearer alice-bearer' });
    assert.equal(victim.status, 200);
    assert.ok(victim.headers.get('x-session-token'), 'the bearer request bound the session');
    assert.equal(await stream.until(() => stream.ended, 1000), true, 'the pre-authorization stream is closed');
    bearerHarness.servers.get(sessionId)?.sendToolListChanged();
    await stream.until(() => stream.text.includes('list_changed'), 300);
    assert.ok(!stream.text.includes('notifications/tools/list_changed'));
    stream.close();
    await bearerServer.close();
  });

  it('keeps the legitimate flow working: connect → authenticate → call tools, then the GET stream with the token', async () => {
    const a = await connectClient(server.endpoint);
    const token = await login(server, a);
    assert.equal(toolText(await a.client.callTool({ name: 'whoami', arguments: {} })), 'alice');
    assert.equal(toolText(await a.client.callTool({ name: 'get_credentials', arguments: { email: ALICE.email } })), JSON.stringify(ALICE.credential));

    const stream = await openEventStream(server.endpoint, { 'mcp-session-id': a.sessionId as string, 'x-session-token': token });
    assert.equal(stream.status, 200);
    harness.servers.get(a.sessionId as string)?.sendToolListChanged();
    assert.equal(await stream.until(() => stream.text.includes('notifications/tools/list_changed'), 1000), true, 'the owner’s stream receives its notifications');
    assert.equal(stream.ended, false);
    assert.equal(toolText(await a.client.callTool({ name: 'whoami', arguments: {} })), 'alice');
    stream.close();
    await a.close();
  });

  it('closes the GET stream of the previous generation when the session authorizes again', async () => {
    const a = await connectClient(server.endpoint);
    const first = await login(server, a);
    const stream = await openEventStream(server.endpoint, { 'mcp-session-id': a.sessionId as string, 'x-session-token': first });
    assert.equal(stream.status, 200);
    const second = await login(server, a);
    assert.equal(await stream.until(() => stream.ended, 1000), true);
    const current = await openEventStream(server.endpoint, { 'mcp-session-id': a.sessionId as string, 'x-session-token': second });
    assert.equal(current.status, 200);
    harness.servers.get(a.sessionId as string)?.sendToolListChanged();
    assert.equal(await current.until(() => current.text.includes('notifications/tools/list_changed'), 1000), true);
    current.close();
    await a.close();
  });
});

describe('MCP revocation cuts open channels at once', () => {
  let server: GuardedServer;
  const harness = createHarness();
  before(async () => {
    server = await startGuardedServer({ createServer: gatedServerFactory(harness) });
  });
  after(async () => {
    harness.gate.resolve();
    await server.close();
  });

  for (const [name, revoke] of [
    ['the emergency switch', (s: GuardedServer) => void s.guard.emergencyDisableSessionReuse()],
    ['revoking the principal', (s: GuardedServer) => void s.guard.revokePrincipalSessions(ALICE.principal)],
  ] as const) {
    it(`ends the GET stream and a running call on ${name}, before the call finishes, and nothing sent afterwards arrives`, async () => {
      harness.reset();
      const alice = await connectClient(server.endpoint);
      const token = await login(server, alice);
      const sessionId = alice.sessionId as string;
      const headers = { ...PROTOCOL, 'mcp-session-id': sessionId, 'x-session-token': token };
      const stream = await openEventStream(server.endpoint, headers);
      assert.equal(stream.status, 200);
      const call = rawPost(server.endpoint, headers, { jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'gated_get_credentials', arguments: { email: ALICE.email } } });
      await harness.started.promise;

      revoke(server);
      assert.equal(await stream.until(() => stream.ended, 2000), true, 'the GET stream is cut while the call still runs');
      const answer = await call; // answered while the tool is still waiting at its gate
      assert.match(JSON.stringify(answer.body), /the session was revoked/);
      try {
        harness.servers.get(sessionId)?.sendToolListChanged(); // what the server sends after the switch
      } catch {
        // the session's server is closed: sending fails, which is the point
      }
      harness.gate.resolve();
      const outcome = await harness.finished.promise;
      assert.equal(outcome.aborted, true, 'the handler’s AbortSignal fired');
      assert.ok(outcome.error instanceof PermissionError, 'the revoked call reads no credential');
      assert.ok(!stream.text.includes('list_changed'));
      assert.ok(!JSON.stringify(answer.body).includes(ALICE.credential.access_token));
      stream.close();
      await alice.close();
    });
  }
});
