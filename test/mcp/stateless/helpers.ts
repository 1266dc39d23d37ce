/**
 * Helpers for the 2026-07-28 tests: a stateless-guarded SDK v2 server on 127.0.0.1:0 (with the
 * sessionful 1.x guard behind `isLegacyRequest`), a demo token verifier, and the v2 client.
 */
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { z } from 'zod';
import { Client, StreamableHTTPClientTransport, isInputRequiredResult, type CallToolResult, type InputRequiredResult } from '@modelcontextprotocol/client';
import { McpServer, OAuthError, OAuthErrorCode, inputRequired, type AuthInfo, type OAuthTokenVerifier } from '@modelcontextprotocol/server';
import { Auditor, memorySink } from '../../../src/audit/index.js';
import { ManualClock } from '../../../src/clock/index.js';
import { createMcpSessionGuard } from '../../../src/mcp/index.js';
import { createMcpStatelessGuard, type McpStatelessGuard, type McpStatelessGuardOptions } from '../../../src/mcp/stateless/index.js';
import { ALICE, BOB, SECRET, credentialServerFactory } from '../helpers.js';

export const STATE_KEY = 'c3RhdGUta2V5LWZvci10ZXN0cy0wMTIzNDU2Nzg5YWI='; // 32 bytes, tests only
export const NEXT_STATE_KEY = 'bmV4dC1zdGF0ZS1rZXktZm9yLXRlc3RzLTAxMjM0NTY='; // 32 bytes, tests only

/** Demo tokens: one OAuth client shared by every user, so only `sub` tells users apart. */
export const TOKENS: Record<string, { sub?: string; email?: string; email_verified?: boolean }> = {
  'alice-token': { sub: 'alice', email: ALICE.email, email_verified: true },
  'bob-token': { sub: 'bob', email: BOB.email, email_verified: true },
  // Claims alice's address without the issuer vouching for it.
  'mallory-token': { sub: 'mallory', email: ALICE.email },
  'no-subject-token': {},
};

export const demoVerifier: OAuthTokenVerifier = {
  async verifyAccessToken(token): Promise<AuthInfo> {
    const known = Object.hasOwn(TOKENS, token) ? TOKENS[token] : undefined;
    if (!known) throw new OAuthError(OAuthErrorCode.InvalidToken, 'unknown token');
    return { token, clientId: 'shared-client', scopes: ['mcp'], expiresAt: Math.floor(Date.now() / 1000) + 3600, extra: { ...known } };
  },
};

/** The app's v2 server: identity, credentials, a two-round tool with requestState, and drafts in the state store. */
export const statelessServerFactory: McpStatelessGuardOptions['createServer'] = function createStatelessServer(ctx) {
  const server = new McpServer({ name: 'stateless-test', version: '1.0.0' }, { ...ctx.serverOptions });
  server.registerTool('whoami', { description: 'The principal', inputSchema: z.object({}) }, async () => ({ content: [{ type: 'text', text: ctx.principal }] }));
  server.registerTool('get_credentials', { description: 'A stored credential', inputSchema: z.object({ email: z.string() }) }, async ({ email }) => {
    const credential = await ctx.getCredential(email);
    return { content: [{ type: 'text', text: JSON.stringify(credential) }] };
  });
  server.registerTool('transfer', { description: 'Two rounds: confirm, then transfer', inputSchema: z.object({ amount: z.number() }) }, async ({ amount }, sdk) => {
    const state = sdk.mcpReq.requestState<{ amount: number; round: number }>();
    if (state === undefined) {
      return inputRequired({
        inputRequests: { confirm: inputRequired.elicit({ message: `Transfer ${amount}?`, requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } } } }) },
        requestState: ctx.requestState.mint({ amount, round: 1 }),
      });
    }
    return { content: [{ type: 'text', text: `transferred ${state.amount} for ${ctx.principal} after round ${state.round}` }] };
  });
  server.registerTool('save_draft', { description: 'Stores a draft', inputSchema: z.object({ text: z.string() }) }, async ({ text }) => ({
    content: [{ type: 'text', text: await ctx.state.put({ text }) }],
  }));
  server.registerTool('load_draft', { description: 'Loads a draft', inputSchema: z.object({ handle: z.string() }) }, async ({ handle }) => {
    const draft = (await ctx.state.get(handle)) as { text: string } | undefined;
    return { content: [{ type: 'text', text: draft ? draft.text : 'no such draft' }] };
  });
  return server;
};

export interface StatelessServer {
  url: string;
  endpoint: URL;
  guard: McpStatelessGuard;
  clock: ManualClock;
  audit: ReturnType<typeof memorySink>;
  close(): Promise<void>;
}

/** Both eras on one Express app: 2026-07-28 through the stateless guard, 2025 through the sessionful one. */
export async function startStatelessServer(overrides: Partial<McpStatelessGuardOptions> = {}): Promise<StatelessServer> {
  const clock = new ManualClock(Date.now());
  const audit = memorySink();
  const auditor = new Auditor({ sinks: [audit], hashSecret: SECRET, clock });
  const sessions = createMcpSessionGuard({ sessionSecret: SECRET, createServer: credentialServerFactory(), audit: auditor, clock, rateLimit: false, sweepInterval: false });
  const app = express();
  let url = 'http://127.0.0.1';
  const guard = createMcpStatelessGuard({
    resourceServerUrl: 'http://127.0.0.1/mcp',
    oauthMetadata: { issuer: 'http://127.0.0.1/', authorization_endpoint: 'http://127.0.0.1/authorize', token_endpoint: 'http://127.0.0.1/token', response_types_supported: ['code'] },
    bearer: { verifier: demoVerifier },
    requestState: { keys: [{ id: 'k1', secret: STATE_KEY }] },
    createServer: statelessServerFactory,
    legacy: sessions.router,
    audit: auditor,
    clock,
    rateLimit: false,
    ...overrides,
  });
  await guard.vault.set(ALICE.principal, ALICE.email, ALICE.credential);
  await guard.vault.set(BOB.principal, BOB.email, BOB.credential);
  app.use(guard.router);
  const server: HttpServer = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    endpoint: new URL(`${url}/mcp`),
    guard,
    clock,
    audit,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await guard.close();
      await sessions.close();
    },
  };
}

/** A v2 client pinned to 2026-07-28 with a bearer token, in manual multi-round-trip mode. */
export async function modernClient(endpoint: URL, token: string | undefined, fetchLike?: typeof fetch): Promise<Client> {
  const client = new Client(
    { name: 'modern-test-client', version: '1.0.0' },
    { versionNegotiation: { mode: { pin: '2026-07-28' } }, inputRequired: { autoFulfill: false }, capabilities: { elicitation: { form: {} } } },
  );
  const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
  await client.connect(new StreamableHTTPClientTransport(endpoint, { requestInit: { headers }, ...(fetchLike ? { fetch: fetchLike } : {}) }));
  return client;
}

export type CallOutcome = { kind: 'result'; text: string; isError: boolean } | { kind: 'input_required'; requestState: string | undefined } | { kind: 'error'; code: number | undefined; message: string };

/** One `tools/call` in manual mode; `extra` carries `requestState` / `inputResponses` of a retry. */
export async function call(client: Client, name: string, args: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<CallOutcome> {
  try {
    const value = (await client.request({ method: 'tools/call', params: { name, arguments: args, ...extra } }, { allowInputRequired: true })) as CallToolResult | InputRequiredResult;
    if (isInputRequiredResult(value)) return { kind: 'input_required', requestState: value.requestState };
    const first = value.content[0];
    return { kind: 'result', text: first && first.type === 'text' ? first.text : '', isError: value.isError === true };
  } catch (err) {
    return { kind: 'error', code: (err as { code?: number }).code, message: (err as Error).message };
  }
}

export const CONFIRMED = { inputResponses: { confirm: { action: 'accept', content: { ok: true } } } };

/** A `fetch` that sends each request to the next instance in turn: a load balancer without stickiness. */
export function roundRobinFetch(instances: readonly URL[]): { fetch: typeof fetch; hits: number[] } {
  const hits = instances.map(() => 0);
  let next = 0;
  return {
    hits,
    fetch: function roundRobin(_url, init) {
      const index = next++ % instances.length;
      hits[index] = (hits[index] as number) + 1;
      return fetch(instances[index] as URL, init);
    } as typeof fetch,
  };
}
