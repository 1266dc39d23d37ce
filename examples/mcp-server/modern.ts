/**
 * The example's 2026-07-28 side (SDK v2, stateless): a demo token verifier, the server each
 * request gets, and the adapter that routes 2025 traffic to the sessionful guard.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { McpServer, OAuthError, OAuthErrorCode, inputRequired, type AuthInfo, type OAuthTokenVerifier } from '@modelcontextprotocol/server';
import type { McpConfig, McpSessionGuard } from '../../src/mcp/index.js';
import { createMcpStatelessGuard, requestStateKeyRing, type McpStatelessContext, type McpStatelessGuard } from '../../src/mcp/stateless/index.js';

/**
 * The demo's access tokens. A real server verifies JWTs or introspects tokens of its
 * authorization server; what matters here is that the verifier returns the user's `sub`.
 */
export const DEMO_BEARER_TOKENS: Readonly<Record<string, { sub: string; email: string }>> = Object.freeze({
  'alice-demo-token': { sub: 'alice', email: 'alice@example.com' },
  'bob-demo-token': { sub: 'bob', email: 'bob@example.com' },
});

const demoVerifier: OAuthTokenVerifier = {
  async verifyAccessToken(token): Promise<AuthInfo> {
    const user = Object.hasOwn(DEMO_BEARER_TOKENS, token) ? DEMO_BEARER_TOKENS[token] : undefined;
    if (!user) throw new OAuthError(OAuthErrorCode.InvalidToken, 'unknown token');
    // One OAuth client for everyone, as in real deployments: only `sub` tells the users apart.
    return { token, clientId: 'demo-client', scopes: ['mcp'], expiresAt: Math.floor(Date.now() / 1000) + 3600, extra: { sub: user.sub, email: user.email, email_verified: true } };
  },
};

function createModernServer(ctx: McpStatelessContext): McpServer {
  const server = new McpServer({ name: 'fixation-guard-mcp-example', version: '1.0.0' }, { ...ctx.serverOptions });
  const text = (value: string) => ({ content: [{ type: 'text' as const, text: value }] });
  server.registerTool('whoami', { title: 'Who am I', description: 'The principal of this request.', inputSchema: z.object({}) }, async () => text(ctx.principal));
  server.registerTool(
    'get_credentials',
    { title: 'Get stored credentials', description: 'The stored (demo) OAuth credential of an account this principal may use.', inputSchema: z.object({ email: z.string() }) },
    async ({ email }) => text(JSON.stringify(await ctx.getCredential(email))),
  );
  server.registerTool(
    'transfer',
    { title: 'Transfer (two rounds)', description: 'Asks for confirmation, then transfers: the amount travels in a sealed requestState.', inputSchema: z.object({ amount: z.number() }) },
    async ({ amount }, sdk) => {
      const confirmed = sdk.mcpReq.requestState<{ amount: number }>();
      if (confirmed === undefined) {
        return inputRequired({
          inputRequests: { confirm: inputRequired.elicit({ message: `Transfer ${amount}?`, requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } } } }) },
          requestState: ctx.requestState.mint({ amount }),
        });
      }
      // The amount of the sealed state, not the retry's arguments: the client cannot change it between rounds.
      return text(`transferred ${confirmed.amount} for ${ctx.principal}`);
    },
  );
  server.registerTool('save_note', { title: 'Save a note', description: 'Stores a note; answers its handle.', inputSchema: z.object({ text: z.string() }) }, async ({ text: note }) =>
    text(await ctx.state.put({ note })),
  );
  server.registerTool('load_note', { title: 'Load a note', description: 'Reads a note by handle (only your own).', inputSchema: z.object({ handle: z.string() }) }, async ({ handle }) => {
    const stored = (await ctx.state.get(handle)) as { note: string } | undefined;
    return text(stored ? stored.note : 'no such note');
  });
  return server;
}

/** The adapter for both eras: 2026-07-28 here, 2025 handed to `legacy`. */
export function createModernMcp(options: { config: McpConfig; legacy: McpSessionGuard; publicUrl: string }): McpStatelessGuard {
  const base = options.publicUrl.replace(/\/$/, '');
  // REQUEST_STATE_KEYS (base64, comma-separated, newest first) when set; else the session secrets, whose sub-keys differ by purpose.
  const secrets = process.env.REQUEST_STATE_KEYS ? process.env.REQUEST_STATE_KEYS.split(',') : options.config.sessionSecrets;
  const guard = createMcpStatelessGuard({
    resourceServerUrl: `${base}/mcp`,
    oauthMetadata: { issuer: `${base}/`, authorization_endpoint: `${base}/oauth/authorize`, token_endpoint: `${base}/oauth/token`, response_types_supported: ['code'] },
    // The principal is the token's `sub`; accounts come only from verified email claims.
    bearer: { verifier: demoVerifier },
    requestState: { keys: requestStateKeyRing(secrets), singleUse: 'memory' },
    createServer: createModernServer,
    legacy: options.legacy.router,
    vault: options.legacy.vault,
    audit: options.legacy.auditor,
    allowedOrigins: options.config.allowedOrigins,
    rateLimit: {
      perIp: { points: options.config.rateLimitPerIp, window: options.config.rateLimitWindowSeconds * 1000 },
      perPrincipal: { points: options.config.rateLimitPerPrincipal, window: options.config.rateLimitWindowSeconds * 1000 },
    },
  });
  // Demo credentials for the bearer users (a real app stores them when the user connects the account).
  for (const user of Object.values(DEMO_BEARER_TOKENS)) {
    void guard.vault.set(user.sub, user.email, { access_token: `demo-${randomBytes(12).toString('hex')}`, scope: 'demo' });
  }
  return guard;
}
