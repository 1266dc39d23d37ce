/**
 * Memory per idle, never-authenticated MCP session, in its own process
 * (`node --expose-gc --import tsx benchmarks/mcp-preauth-worker.ts <count>`).
 *
 * Serves the sessionful guard (`createMcpSessionGuard`, SDK 1.x transport, a one-tool app
 * server per session) on 127.0.0.1:0 and opens `count` sessions the way a flood does: an
 * `initialize` over real HTTP, nothing after it. Heap used (after a full GC) and RSS, before
 * and after, divided by `count`. Then, on a guard with the default `preAuth` limits, counts how
 * many such sessions one IP gets before the refusal. Prints one JSON line.
 */
import type { AddressInfo } from 'node:net';
import express from 'express';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { createMcpSessionGuard, DEFAULT_PREAUTH_IDLE_TIMEOUT_MS, DEFAULT_PREAUTH_MAX_PER_IP, DEFAULT_PREAUTH_MAX_SESSIONS, type McpSessionGuardOptions } from '../src/mcp/index.js';

const count = Number(process.argv[2] ?? 2000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const SECRET = 'YmVuY2htYXJrLW9ubHktc2Vzc2lvbi1zZWNyZXQtMDAwMDA='; // benchmarks only
const WARMUP = 50;
const CONCURRENCY = 20;
const INITIALIZE = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'flood', version: '1.0.0' } } });

function fullGc(): { heap: number; rss: number } {
  for (let i = 0; i < 4; i++) gc?.();
  const usage = process.memoryUsage();
  return { heap: usage.heapUsed, rss: usage.rss };
}

function appServer(): McpServer {
  const server = new McpServer({ name: 'bench-app', version: '1.0.0' });
  server.registerTool('echo', { description: 'Echoes', inputSchema: { text: z.string() } }, async ({ text }) => ({ content: [{ type: 'text', text }] }));
  return server;
}

async function serve(options: Partial<McpSessionGuardOptions>) {
  const guard = createMcpSessionGuard({ sessionSecret: SECRET, createServer: appServer, rateLimit: false, sweepInterval: false, ...options });
  const app = express();
  app.use(guard.router);
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  async function open(): Promise<number> {
    const answer = await fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: INITIALIZE });
    await answer.text();
    return answer.status;
  }
  async function close(): Promise<void> {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await guard.close();
  }
  return { guard, open, close };
}

async function openMany(open: () => Promise<number>, total: number): Promise<void> {
  for (let done = 0; done < total; done += CONCURRENCY) {
    const statuses = await Promise.all(Array.from({ length: Math.min(CONCURRENCY, total - done) }, open));
    const refused = statuses.find((status) => status !== 200);
    if (refused) throw new Error(`initialize answered ${refused}`);
  }
}

// 1. Bytes per session, with the pre-auth pool raised so every session of the run fits.
const measured = await serve({ maxSessions: count + WARMUP + 10, preAuth: { maxPerIp: count + WARMUP, maxSessions: count + WARMUP } });
await openMany(measured.open, WARMUP);
const before = fullGc();
const started = performance.now();
await openMany(measured.open, count);
const openMs = performance.now() - started;
const after = fullGc();
const live = measured.guard.size;
await measured.close();

// 2. The defaults: how many one IP gets before 429.
const defaults = await serve({});
let accepted = 0;
let refusal = 0;
for (let i = 0; i < DEFAULT_PREAUTH_MAX_PER_IP + 5; i++) {
  const status = await defaults.open();
  if (status === 200) accepted += 1;
  else if (!refusal) refusal = status;
}
await defaults.close();

const heapBytesPerSession = Math.round((after.heap - before.heap) / count);
process.stdout.write(
  `${JSON.stringify({
    sessions: count,
    liveSessions: live,
    heapBytesPerSession,
    rssBytesPerSession: Math.round((after.rss - before.rss) / count),
    openMsPerSession: Math.round((openMs / count) * 100) / 100,
    defaults: { maxPerIp: DEFAULT_PREAUTH_MAX_PER_IP, maxSessions: DEFAULT_PREAUTH_MAX_SESSIONS, idleTimeoutMs: DEFAULT_PREAUTH_IDLE_TIMEOUT_MS },
    boundMiB: Math.round(((heapBytesPerSession * DEFAULT_PREAUTH_MAX_SESSIONS) / 2 ** 20) * 10) / 10,
    perIpAccepted: accepted,
    perIpRefusalStatus: refusal,
  })}\n`,
);
