/**
 * Runs the official MCP conformance suite (`@modelcontextprotocol/conformance`, two versions)
 * against the adapter: one Express app serving 2026-07-28 through the stateless guard (SDK v2)
 * and 2025-era sessions through the sessionful guard (SDK 1.x), behind `isLegacyRequest`, as
 * examples/mcp-server does. The suite's client cannot send headers of its own, so a small
 * forwarding proxy adds the bearer token, as a gateway in front of a client would.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import express from 'express';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { OAuthError, OAuthErrorCode, type AuthInfo, type OAuthTokenVerifier } from '@modelcontextprotocol/server';
import { Auditor, memorySink } from '../../src/audit/index.js';
import { InMemoryEventStore } from '@modelcontextprotocol/sdk/examples/shared/inMemoryEventStore.js';
import { createMcpSessionGuard } from '../../src/mcp/index.js';
import { createMcpStatelessGuard } from '../../src/mcp/stateless/index.js';
import { legacyConformanceServer, modernConformanceServer } from '../support/conformance-servers.js';
import { listenMcp, SECRET } from './helpers.js';
import { STATE_KEY } from './stateless/helpers.js';

export const CONFORMANCE_TOKEN = 'conformance-suite-token';

const verifier: OAuthTokenVerifier = {
  async verifyAccessToken(token): Promise<AuthInfo> {
    if (token !== CONFORMANCE_TOKEN) throw new OAuthError(OAuthErrorCode.InvalidToken, 'unknown token');
    return { token, clientId: 'conformance-client', scopes: ['mcp'], expiresAt: Math.floor(Date.now() / 1000) + 3600, extra: { sub: 'conformance-user' } };
  },
};

export interface ConformanceTarget {
  /** The adapter's own endpoint (no token added). */
  direct: string;
  /** The same endpoint through the token-adding proxy. */
  withToken: string;
  audit: ReturnType<typeof memorySink>;
  close(): Promise<void>;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** Both eras behind the adapter, with bearer authentication required in both. */
export async function startConformanceTarget(): Promise<ConformanceTarget> {
  // The proxy's port first: the endpoint's own origin (as the suite's client names it) is allowed.
  let port = 0;
  const proxy = createServer(function addToken(incoming: IncomingMessage, outgoing) {
    const forwarded = request(
      { host: '127.0.0.1', port, method: incoming.method, path: incoming.url, headers: { ...incoming.headers, authorization: `Bearer ${CONFORMANCE_TOKEN}` } },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      },
    );
    forwarded.once('error', () => outgoing.destroy());
    outgoing.once('close', () => forwarded.destroy());
    incoming.pipe(forwarded);
  });
  const proxyPort = await listen(proxy);
  const audit = memorySink();
  const ownOrigins = [`http://localhost:${proxyPort}`, `http://127.0.0.1:${proxyPort}`];
  const auditor = new Auditor({ sinks: [audit], hashSecret: SECRET });
  const sessions = createMcpSessionGuard({
    sessionSecret: SECRET,
    createServer: legacyConformanceServer,
    audit: auditor,
    bearer: { verifier },
    allowedOrigins: ownOrigins,
    rateLimit: false,
    sweepInterval: false,
    // Resumable streams (the server-sse-polling scenario), through the guard's per-session scope.
    eventStore: new InMemoryEventStore(),
  });
  const modern = createMcpStatelessGuard({
    resourceServerUrl: 'http://127.0.0.1/mcp',
    oauthMetadata: { issuer: 'http://127.0.0.1/', authorization_endpoint: 'http://127.0.0.1/authorize', token_endpoint: 'http://127.0.0.1/token', response_types_supported: ['code'] },
    bearer: { verifier },
    requestState: { keys: [{ id: 'k1', secret: STATE_KEY }], singleUse: 'memory' },
    createServer: modernConformanceServer,
    legacy: sessions.router,
    allowedOrigins: ownOrigins,
    audit: auditor,
    rateLimit: false,
  });
  const app = express();
  app.use(modern.router);
  const server = createServer(app);
  port = await listen(server);
  return {
    direct: `http://127.0.0.1:${port}/mcp`,
    withToken: `http://127.0.0.1:${proxyPort}/mcp`,
    audit,
    async close() {
      proxy.closeAllConnections();
      server.closeAllConnections();
      await Promise.all([new Promise((resolve) => proxy.close(resolve)), new Promise((resolve) => server.close(resolve))]);
      await modern.close();
      await sessions.close();
    },
  };
}

/**
 * The same reference server on the SDK 1.x sessionful transport with no guard at all (the
 * SDK's own pattern: a transport per session id): the control for the runs without a token.
 */
export async function startUnprotectedTarget(): Promise<{ url: string; close(): Promise<void> }> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const app = express();
  app.use(express.json());
  app.all('/mcp', async function unguarded(req, res) {
    const id = req.headers['mcp-session-id'];
    let transport = typeof id === 'string' ? transports.get(id) : undefined;
    if (!transport) {
      const created = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), onsessioninitialized: (sid) => void transports.set(sid, created) });
      await legacyConformanceServer().connect(created);
      transport = created;
    }
    await transport.handleRequest(req, res, req.body);
  });
  const http = await listenMcp(app);
  return {
    url: http.endpoint.href,
    async close() {
      await http.close();
      await Promise.all([...transports.values()].map((transport) => transport.close()));
    },
  };
}

export interface ConformanceCheck {
  scenario: string;
  id: string;
  status: string;
  errorMessage?: string;
}

export interface ConformanceRun {
  checks: ConformanceCheck[];
  passed: number;
  failed: number;
  scenarios: { name: string; passed: boolean }[];
  exitCode: number | null;
  output: string;
}

/** The two suite versions, by package directory under node_modules. */
export const SUITES = {
  '0.1.16': 'node_modules/@modelcontextprotocol/conformance/dist/index.js',
  '0.2.0-alpha.12': 'node_modules/mcp-conformance-next/dist/index.js',
} as const;

/**
 * Runs `conformance server --url <url> …args` and reads every checks.json it wrote. The CLI
 * imports `fs.globSync` (Node 22+); on Node 20 test/support/fs-glob.mjs supplies it.
 */
export async function runConformance(suite: keyof typeof SUITES, url: string, args: readonly string[]): Promise<ConformanceRun> {
  const outputDir = mkdtempSync(join(tmpdir(), 'fg-conformance-'));
  const child = spawn(process.execPath, ['--import', './test/support/fs-glob.mjs', SUITES[suite], 'server', '--url', url, '--output-dir', outputDir, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir() },
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exitCode = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const checks: ConformanceCheck[] = [];
  const scenarios: { name: string; passed: boolean }[] = [];
  for (const entry of readdirSync(outputDir, { recursive: true }).map(String)) {
    if (!entry.endsWith('checks.json')) continue;
    const scenario = entry.split(/[\\/]/)[0] ?? entry;
    const found = JSON.parse(readFileSync(join(outputDir, entry), 'utf8')) as ConformanceCheck[];
    const counted = found.filter((check) => check.status === 'SUCCESS' || check.status === 'FAILURE');
    for (const check of counted) checks.push({ scenario, id: check.id, status: check.status, ...(check.errorMessage ? { errorMessage: check.errorMessage } : {}) });
    scenarios.push({ name: scenario, passed: counted.length > 0 && counted.every((check) => check.status === 'SUCCESS') });
  }
  rmSync(outputDir, { recursive: true, force: true });
  return {
    checks,
    passed: checks.filter((check) => check.status === 'SUCCESS').length,
    failed: checks.filter((check) => check.status === 'FAILURE').length,
    scenarios,
    exitCode,
    output,
  };
}
