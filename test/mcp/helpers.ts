/**
 * Helpers for the MCP adapter tests: a guarded server on 127.0.0.1:0 with a credentials tool,
 * and the SDK's own Client over real HTTP with a header-injecting fetch.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express, { type Express } from 'express';
import { z } from 'zod';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Auditor, jsonlSink, memorySink } from '../../src/audit/index.js';
import { ManualClock } from '../../src/clock/index.js';
import { createMcpSessionGuard, type McpSessionGuard, type McpSessionGuardOptions } from '../../src/mcp/index.js';
import { mcpErrorHandler } from '../../src/mcp/http.js';

export const SECRET = 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY='; // 32 bytes, tests only

export const ALICE = { principal: 'alice', email: 'alice@example.com', credential: { access_token: 'ya29.ALICE-SECRET-ACCESS', refresh_token: '1//ALICE-REFRESH' } };
export const BOB = { principal: 'bob', email: 'bob@example.com', credential: { access_token: 'ya29.BOB-SECRET-ACCESS', refresh_token: '1//BOB-REFRESH' } };

/** The app's server factory: one credentials tool that takes the account from a tool argument. */
export function credentialServerFactory(): McpSessionGuardOptions['createServer'] {
  return function createCredentialServer(session) {
    const server = new McpServer({ name: 'credentials-test', version: '1.0.0' });
    server.registerTool(
      'get_credentials',
      { description: 'Returns the stored credential of an account', inputSchema: { email: z.string() } },
      async function getCredentials({ email }) {
        const credential = await session.getCredential(email);
        return { content: [{ type: 'text' as const, text: JSON.stringify(credential) }] };
      },
    );
    server.registerTool('whoami', { description: 'The session principal' }, async function whoami() {
      return { content: [{ type: 'text' as const, text: session.principal ?? 'anonymous' }] };
    });
    return server;
  };
}

export interface GuardedServer {
  url: string;
  endpoint: URL;
  guard: McpSessionGuard;
  clock: ManualClock;
  audit: ReturnType<typeof memorySink>;
  auditFile: string;
  readAuditFile(): string;
  close(): Promise<void>;
}

/** Starts an Express app with the guard on 127.0.0.1:0. Options override the test defaults. */
export async function startGuardedServer(overrides: Partial<McpSessionGuardOptions> = {}, setup: { trustProxy?: number } = {}): Promise<GuardedServer> {
  const clock = new ManualClock();
  const audit = memorySink();
  const auditFile = join(mkdtempSync(join(tmpdir(), 'fg-mcp-audit-')), 'audit.jsonl');
  const auditor = new Auditor({ sinks: [audit, jsonlSink(auditFile)], hashSecret: SECRET, clock });
  const guard = createMcpSessionGuard({
    sessionSecret: SECRET,
    createServer: credentialServerFactory(),
    audit: auditor,
    clock,
    rateLimit: false,
    sweepInterval: false,
    ...overrides,
  });
  await guard.ready();
  const app = express();
  // One trusted hop: X-Forwarded-For stands for the client address, as behind one load balancer.
  if (setup.trustProxy !== undefined) app.set('trust proxy', setup.trustProxy);
  app.use(guard.router);
  app.post('/auth/test-login', express.json(), async function testLogin(req, res) {
    // Stands in for the app's OAuth callback: identity verified elsewhere, session id from the header.
    const user = req.body.user === 'bob' ? BOB : ALICE;
    try {
      const issued = await guard.authorizeSession(String(req.headers['mcp-session-id']), {
        principal: user.principal,
        email: user.email,
        credentials: { [user.email]: user.credential },
      });
      res.json(issued);
    } catch (err) {
      res.status((err as { status?: number }).status ?? 500).json({ error: (err as Error).message });
    }
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    endpoint: new URL(`${url}${overrides.path ?? '/mcp'}`),
    guard,
    clock,
    audit,
    auditFile,
    readAuditFile: () => readFileSync(auditFile, 'utf8'),
    async close() {
      await guard.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export interface TestClient {
  client: Client;
  transport: StreamableHTTPClientTransport;
  readonly sessionId: string | undefined;
  /** The session token the client sends from now on (`undefined` to stop sending one). */
  token: string | undefined;
  /** Extra headers on every request (e.g. a different User-Agent, an Authorization header). */
  headers: Record<string, string>;
  close(): Promise<void>;
}

/** Connects the SDK's Client over HTTP; `sessionId` reuses an existing id as an attacker would. */
export async function connectClient(
  endpoint: URL,
  options: { headers?: Record<string, string>; name?: string; sessionId?: string; skipInitialize?: boolean } = {},
): Promise<TestClient> {
  const state = { token: undefined as string | undefined, headers: { 'user-agent': 'test-agent/1.0', ...(options.headers ?? {}) } };
  const transport = new StreamableHTTPClientTransport(endpoint, {
    ...(options.sessionId ? { sessionId: options.sessionId } : {}),
    reconnectionOptions: { maxRetries: 0, initialReconnectionDelay: 10, maxReconnectionDelay: 10, reconnectionDelayGrowFactor: 1 },
    fetch: function fetchWithSessionToken(url, init) {
      const headers = new Headers(init?.headers);
      for (const [name, value] of Object.entries(state.headers)) headers.set(name, value);
      if (state.token) headers.set('x-session-token', state.token);
      return fetch(url, { ...init, headers });
    },
  });
  const client = new Client({ name: options.name ?? 'test-client', version: '1.0.0' });
  client.onerror = () => undefined; // the standalone GET stream may be refused; that is not a test failure
  if (!options.skipInitialize) await client.connect(transport);
  return {
    client,
    transport,
    get sessionId() {
      return transport.sessionId;
    },
    get token() {
      return state.token;
    },
    set token(value) {
      state.token = value;
    },
    get headers() {
      return state.headers;
    },
    set headers(value) {
      state.headers = value;
    },
    async close() {
      await client.close().catch(() => undefined);
    },
  };
}

/** Authenticates a connected client through the test login route and makes it send the token. */
export async function login(server: GuardedServer, client: TestClient, user: 'alice' | 'bob' = 'alice'): Promise<string> {
  const response = await fetch(`${server.url}/auth/test-login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'mcp-session-id': client.sessionId ?? '' },
    body: JSON.stringify({ user }),
  });
  if (response.status !== 200) throw new Error(`login failed: ${response.status} ${await response.text()}`);
  const { token } = (await response.json()) as { token: string };
  client.token = token;
  return token;
}

/** The text of a tool result. */
export function toolText(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content.map((part) => part.text ?? '').join('');
}

/** A raw JSON-RPC POST, for what an attacker without the SDK would send. */
export async function rawPost(endpoint: URL, headers: Record<string, string>, body: unknown = { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'user-agent': 'test-agent/1.0', ...headers },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // SSE or empty
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

/** Serves an app on 127.0.0.1:0; `endpoint` is its `/mcp`. For the unguarded baselines of the tests. */
export async function listenMcp(app: express.Express): Promise<{ endpoint: URL; close(): Promise<void> }> {
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    endpoint: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Opens the session's GET (SSE) stream; `ended` settles once the server ends the stream. */
export async function openStream(server: GuardedServer, client: TestClient, headers: Record<string, string> = {}): Promise<{ ended: Promise<void> }> {
  const stream = await fetch(server.endpoint, {
    headers: { ...headers, accept: 'text/event-stream', 'user-agent': 'test-agent/1.0', 'mcp-session-id': client.sessionId as string, 'x-session-token': client.token as string },
  });
  assert.equal(stream.status, 200);
  // Wrapped: an async function returning this promise would wait for the stream to end.
  const ended = (async () => {
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    while (!(await reader.read()).done);
  })();
  return { ended };
}

export const INITIALIZE = {
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw-client', version: '1.0.0' } },
};

/** Awaits an SDK client call that the server must refuse with `status`; returns the error. */
export async function rejectsWithStatus(promise: Promise<unknown>, status: number): Promise<StreamableHTTPError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof StreamableHTTPError, `expected a StreamableHTTPError, got ${String(err)}`);
    assert.equal(err.code, status, err.message);
    return err;
  }
  assert.fail(`expected HTTP ${status}, the call succeeded`);
}

/** Runs `body` against a fresh guarded server and closes it whatever happens (a failed assertion must not leave the test process hanging). */
export async function withGuardedServer(overrides: Partial<McpSessionGuardOptions>, body: (server: GuardedServer) => Promise<void>, setup: { trustProxy?: number } = {}): Promise<void> {
  const server = await startGuardedServer(overrides, setup);
  try {
    await body(server);
  } finally {
    await server.close();
  }
}

/** Runs `body` against an Express app built by `build`, listening on 127.0.0.1:0 at `/mcp`, with a memory audit sink. */
export async function withExpressApp(
  build: (app: Express, auditor: Auditor) => void,
  body: (url: string, audit: ReturnType<typeof memorySink>) => Promise<void>,
): Promise<void> {
  const audit = memorySink();
  const auditor = new Auditor({ sinks: [audit], hashSecret: SECRET });
  const app = express();
  build(app, auditor);
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    await body(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`, audit);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

/** `withExpressApp` with the endpoint's error handler after what `build` mounts: one middleware tested alone. */
export function withMcpMiddleware(
  build: (app: Express, auditor: Auditor) => void,
  body: (url: string, audit: ReturnType<typeof memorySink>) => Promise<void>,
): Promise<void> {
  return withExpressApp((app, auditor) => {
    build(app, auditor);
    app.use('/mcp', mcpErrorHandler());
  }, body);
}

/** POSTs a JSON body as an MCP client would. */
export function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers }, body: JSON.stringify(body) });
}
