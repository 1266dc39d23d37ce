/**
 * What `runMcpAttacks` is told about each MCP example: who the victim and the attacker are, the
 * tool that answers `input_required`, and the limits the example enforces. Used by
 * `npm run demo` and by the tests that attack the examples.
 */
import type { McpAttackOptions, McpIdentity } from '../../src/attack-suite/index.js';
import { demoBearer } from '../mcp-vulnerable/app.js';

/** examples/mcp-server's 2025 login: POST /auth/demo-login authorizes the session and answers its token. */
export function demoLogin(baseUrl: string, username: string): NonNullable<McpIdentity['login']> {
  return async function login({ sessionId }) {
    const res = await fetch(new URL('/auth/demo-login', baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'mcp-session-id': sessionId, 'user-agent': 'fixation-guard-attack-mcp/1.0' },
      body: JSON.stringify({ username, password: `${username}-password` }),
    });
    const body = (await res.json()) as { token?: string };
    if (!body.token) throw new Error(`demo-login answered ${res.status} for ${username}`);
    return { 'x-session-token': body.token };
  };
}

export function mcpExampleAttackOptions(example: 'mcp-server' | 'mcp-vulnerable', baseUrl: string): McpAttackOptions {
  if (example === 'mcp-server') {
    return {
      // 2026-07-28: the demo bearer tokens; 2025: the session login.
      victim: { bearer: 'alice-demo-token', login: demoLogin(baseUrl, 'alice') },
      attacker: { bearer: 'bob-demo-token', login: demoLogin(baseUrl, 'bob') },
      stateTool: { name: 'transfer', arguments: { amount: 5 } },
      maxSessionsPerUser: 5,
      rateLimit: 300,
    };
  }
  return { victim: { bearer: demoBearer('alice') }, attacker: { bearer: demoBearer('bob') }, stateTool: { name: 'confirm' }, maxSessionsPerUser: 3, rateLimit: 60 };
}
