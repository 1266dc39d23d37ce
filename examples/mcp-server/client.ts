/**
 * The README's walk-throughs as a program: 2025 (connect → authenticate → call) and 2026-07-28
 * (bearer token per request, sealed requestState).
 *
 *   npm run example:mcp                                            # in one terminal
 *   npx tsx examples/mcp-server/client.ts http://127.0.0.1:3000 alice [2025|2026]
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


export interface ModernWalkthroughResult {
  unauthenticated: { status: number; challenge: string | null; metadata: unknown };
  whoami: string;
  own: string;
  other: { isError: boolean; text: string };
  transfer: string;
  replayedByOther: string;
}

/**
 * The 2026-07-28 walk-through with the v2 client: no token → 401 and discovery; a demo bearer
 * token → per-request identity; a two-round call with a sealed requestState; the same state
 * replayed under the other user's token is refused.
 */
export async function runModernWalkthrough(baseUrl: string, username: 'alice' | 'bob' = 'alice'): Promise<ModernWalkthroughResult> {
  const { Client: ModernClient, StreamableHTTPClientTransport: ModernTransport, isInputRequiredResult } = await import('@modelcontextprotocol/client');
  const endpoint = new URL('/mcp', baseUrl);
  const other = username === 'alice' ? 'bob' : 'alice';

  // 0. Without a token: 401, and the challenge names the protected-resource metadata.
  const anonymous = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } } }),
  });
  const challenge = anonymous.headers.get('www-authenticate');
  const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge ?? '')?.[1];
  const metadata = metadataUrl ? await (await fetch(metadataUrl)).json() : undefined;

  async function connect(user: string) {
    const client = new ModernClient({ name: 'fixation-guard-example-client', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } }, inputRequired: { autoFulfill: false }, capabilities: { elicitation: { form: {} } } });
    await client.connect(new ModernTransport(endpoint, { requestInit: { headers: { Authorization: `Bearer ${user}-demo-token` } } }));
    return client;
  }
  async function callTool(client: Awaited<ReturnType<typeof connect>>, name: string, params: Record<string, unknown>) {
    try {
      const value = await client.request({ method: 'tools/call', params: { name, ...params } }, { allowInputRequired: true });
      if (isInputRequiredResult(value)) return { state: value.requestState, isError: false, text: '' };
      return { isError: (value as { isError?: boolean }).isError === true, text: text(value) };
    } catch (err) {
      return { isError: true, text: (err as Error).message };
    }
  }

  const client = await connect(username);
  const intruder = await connect(other);
  try {
    const whoami = (await callTool(client, 'whoami', { arguments: {} })).text;
    const own = (await callTool(client, 'get_credentials', { arguments: { email: `${username}@example.com` } })).text;
    const otherResult = await callTool(client, 'get_credentials', { arguments: { email: `${other}@example.com` } });
    const first = await callTool(client, 'transfer', { arguments: { amount: 5 } });
    const retry = { arguments: { amount: 5 }, requestState: first.state, inputResponses: { confirm: { action: 'accept', content: { ok: true } } } };
    const replayedByOther = (await callTool(intruder, 'transfer', retry)).text;
    const transfer = (await callTool(client, 'transfer', retry)).text;
    return {
      unauthenticated: { status: anonymous.status, challenge, metadata },
      whoami,
      own,
      other: { isError: otherResult.isError, text: otherResult.text },
      transfer,
      replayedByOther,
    };
  } finally {
    await Promise.all([client.close(), intruder.close()]);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const base = process.argv[2] ?? `http://127.0.0.1:${process.env.PORT ?? 3000}`;
  const user = process.argv[3] === 'bob' ? 'bob' : 'alice';
  const result = process.argv[4] === '2025' ? await runWalkthrough(base, user) : await runModernWalkthrough(base, user);
  console.log(JSON.stringify(result, null, 2));
}
