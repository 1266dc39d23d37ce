/**
 * The README's walk-through as a program: connect → authenticate → call.
 *
 *   npm run example:mcp                                  # in one terminal
 *   npx tsx examples/mcp-server/client.ts http://127.0.0.1:3000
 */
import { pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export interface WalkthroughResult {
  before: string;
  whoami: string;
  own: string;
  other: { isError: boolean; text: string };
}

function text(result: unknown): string {
  return ((result as { content?: { text?: string }[] }).content ?? []).map((part) => part.text ?? '').join('');
}

/** Connects as a new session, logs in as `username`, reads its own and someone else's credentials. */
export async function runWalkthrough(baseUrl: string, username = 'alice', password = `${username}-password`): Promise<WalkthroughResult> {
  let sessionToken: string | undefined;
  // 1. Connect: the server creates a new, unauthenticated session with an id of its own.
  const transport = new StreamableHTTPClientTransport(new URL('/mcp', baseUrl), {
    fetch(url, init) {
      const headers = new Headers(init?.headers);
      if (sessionToken) headers.set('X-Session-Token', sessionToken);
      return fetch(url, { ...init, headers });
    },
  });
  const client = new Client({ name: 'fixation-guard-example-client', version: '1.0.0' });
  await client.connect(transport);
  try {
    const before = text(await client.callTool({ name: 'get_credentials', arguments: { email: `${username}@example.com` } }));

    // 2. Authenticate: the login route authorizes *this* session and answers its token.
    const response = await fetch(new URL('/auth/demo-login', baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'mcp-session-id': transport.sessionId ?? '' },
      body: JSON.stringify({ username, password }),
    });
    if (!response.ok) throw new Error(`login failed: ${response.status} ${await response.text()}`);
    sessionToken = ((await response.json()) as { token: string }).token;

    // 3. Call: the token rides on every request; the ACL allows only this user's account.
    const whoami = text(await client.callTool({ name: 'whoami', arguments: {} }));
    const own = text(await client.callTool({ name: 'get_credentials', arguments: { email: `${username}@example.com` } }));
    const otherResult = await client.callTool({ name: 'get_credentials', arguments: { email: username === 'alice' ? 'bob@example.com' : 'alice@example.com' } });
    return { before, whoami, own, other: { isError: otherResult.isError === true, text: text(otherResult) } };
  } finally {
    await transport.terminateSession().catch(() => undefined);
    await client.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await runWalkthrough(process.argv[2] ?? `http://127.0.0.1:${process.env.PORT ?? 3000}`, process.argv[3]);
  console.log(JSON.stringify(result, null, 2));
}
