/**
 * A runnable MCP server behind fixation-guard/mcp, serving both protocol eras on one endpoint:
 * `npm run example:mcp`.
 *
 * - MCP (Streamable HTTP) at http://127.0.0.1:$PORT/mcp; PORT defaults to 3000.
 * - 2026-07-28 clients (SDK v2, stateless): `Authorization: Bearer alice-demo-token` or
 *   `bob-demo-token` (a demo verifier returning `sub`); without a token, 401 with
 *   `WWW-Authenticate` naming /.well-known/oauth-protected-resource/mcp. Tools: `whoami`,
 *   `get_credentials({ email })`, `transfer({ amount })` (two rounds, sealed `requestState`),
 *   `save_note({ text })` / `load_note({ handle })` (principal-scoped state).
 * - 2025 clients (sessionful, routed with `isLegacyRequest`): `POST /auth/demo-login` stands in
 *   for the OAuth callback an app would own: it checks a demo user's password, authorizes the
 *   caller's MCP session (header `Mcp-Session-Id`) and answers the session token the client must
 *   send as `X-Session-Token` from then on. Tools: `get_credentials({ email })`, `whoami`, plus
 *   the adapter's `revoke_current_session` and the `session://validate` resource.
 *
 * Starts with no environment at all in development (throw-away keys, MEMORY_ONLY, a loud
 * warning). With NODE_ENV=production it refuses to start without SESSION_SECRET.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import express from 'express';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { createMcpSessionGuard, loadMcpConfigFromEnv, McpConfigError, McpGuardError, mcpGuardOptionsFromConfig, type McpSession } from '../../src/mcp/index.js';
import { createModernMcp } from './modern.js';

/** Demo users, as in examples/basic-login. A real app verifies identity with its OAuth provider. */
const DEMO_USERS: Record<string, { password: string; email: string }> = {
  alice: { password: 'alice-password', email: 'alice@example.com' },
  bob: { password: 'bob-password', email: 'bob@example.com' },
};

function passwordMatches(given: unknown, expected: string): boolean {
  const a = Buffer.from(String(given ?? ''));
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function createExampleServer(session: McpSession): McpServer {
  const server = new McpServer({ name: 'fixation-guard-mcp-example', version: '1.0.0' });
  server.registerTool(
    'get_credentials',
    {
      title: 'Get stored credentials',
      description: 'Returns the stored (demo) OAuth credential of an account this session is authorized for.',
      inputSchema: { email: z.string().describe('The account, e.g. alice@example.com') },
    },
    async function getCredentials({ email }) {
      // The email comes from the client; the ACL decides, from the verified session token.
      const credential = await session.getCredential(email);
      return { content: [{ type: 'text' as const, text: JSON.stringify(credential) }] };
    },
  );
  server.registerTool('whoami', { title: 'Who am I', description: 'The principal of this session, or "anonymous".' }, async function whoami() {
    return { content: [{ type: 'text' as const, text: session.principal ?? 'anonymous' }] };
  });
  return server;
}

async function main(): Promise<void> {
  let config;
  try {
    config = loadMcpConfigFromEnv(
      {
        // Example defaults: nothing on disk unless asked for. The library's own default is FILE_ENCRYPTED.
        CREDENTIAL_STORAGE_MODE: 'MEMORY_ONLY',
        AUDIT_LOG_PATH: '.tmp/mcp-example-audit.jsonl',
        ...process.env,
      },
      { developmentKeys: true },
    );
  } catch (err) {
    if (err instanceof McpConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }

  const guard = createMcpSessionGuard({ ...(await mcpGuardOptionsFromConfig(config)), createServer: createExampleServer });
  const app = express();
  app.disable('x-powered-by');
  // The MCP endpoint is mounted once the port is known (the protected resource's URL names it).

  app.post('/auth/demo-login', express.json(), async function demoLogin(req, res) {
    const { username, password } = (req.body ?? {}) as { username?: unknown; password?: unknown };
    const user = typeof username === 'string' && Object.hasOwn(DEMO_USERS, username) ? DEMO_USERS[username] : undefined;
    if (!user || !passwordMatches(password, user.password)) {
      res.status(401).json({ error: 'invalid username or password' });
      return;
    }
    const sessionId = req.get('mcp-session-id');
    if (!sessionId) {
      res.status(400).json({ error: 'send the Mcp-Session-Id of the MCP session to authorize' });
      return;
    }
    try {
      // What an OAuth callback would do after exchanging the code: bind the session, store the tokens.
      const issued = await guard.authorizeSession(sessionId, {
        principal: username as string,
        email: user.email,
        credentials: { [user.email]: { access_token: `demo-${randomBytes(12).toString('hex')}`, scope: 'demo' } },
      });
      res.json({ user: username, email: user.email, token: issued.token, expiresAt: new Date(issued.expiresAt).toISOString() });
    } catch (err) {
      if (err instanceof McpGuardError) {
        res.status(err.status).json({ error: err.message });
        return;
      }
      throw err;
    }
  });

  let stopModern: () => Promise<void> = async () => undefined;
  const port = Number(process.env.PORT ?? 3000);
  const httpServer = app.listen(port, '127.0.0.1', function ready(error?: Error) {
    // Express 5 hands listen errors (EADDRINUSE) to this callback instead of throwing.
    if (error) {
      console.error(`fixation-guard MCP example: cannot listen on 127.0.0.1:${port}: ${error.message}`);
      process.exit(1);
    }
    const address = httpServer.address();
    const bound = typeof address === 'object' && address ? address.port : port;
    const modern = createModernMcp({ config, legacy: guard, publicUrl: process.env.PUBLIC_URL ?? `http://127.0.0.1:${bound}` });
    app.use(modern.router);
    stopModern = () => modern.close();
    console.log(`fixation-guard MCP example listening on http://127.0.0.1:${bound} (MCP endpoint /mcp: 2026-07-28 with Bearer alice-demo-token / bob-demo-token, 2025 sessions with login POST /auth/demo-login)`);
  });

  function shutdown(): void {
    httpServer.closeAllConnections();
    httpServer.close();
    void stopModern();
    void guard.close();
  }
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

await main();
