import { idHash } from '../cookies.js';
import type { McpEra, McpEvidenceRequest, McpIdentity } from './types.js';
import { CLIENT_INFO, toolText, USER_AGENT, type McpWire } from './wire.js';

/** What a tool call came back with, as the attacks judge it. */
export interface ToolAnswer {
  /** A tool result that is not an error. */
  ok: boolean;
  text?: string;
  /** The HTTP status, when the server refused the request at the HTTP level. */
  status?: number;
  error?: string;
}

/** A connection of one of the official SDK clients. */
export interface McpConnection {
  era: McpEra;
  /** The 2025 session id; `undefined` for a stateless server or the 2026-07-28 era. */
  sessionId: string | undefined;
  /** Every header this connection sends besides the protocol's own (credentials included). */
  headers: Record<string, string>;
  listTools(): Promise<Array<{ name: string; required: string[] }>>;
  callTool(name: string, args?: Record<string, unknown>): Promise<ToolAnswer>;
  /** DELETE of the 2025 session (the client's own session termination). */
  terminate(): Promise<void>;
  close(): Promise<void>;
}

type FetchLike = (url: string | URL, init?: RequestInit) => Promise<Response>;

/** A fetch that adds the identity's headers and records each exchange as evidence. */
function recordingFetch(wire: McpWire, era: McpEra, step: string, headers: Record<string, string>): FetchLike {
  return async function attackFetch(url, init) {
    const merged = new Headers(init?.headers);
    merged.set('user-agent', USER_AGENT);
    for (const [name, value] of Object.entries(headers)) merged.set(name, value);
    const method = init?.method ?? 'GET';
    const evidence: McpEvidenceRequest = { step, era, method };
    if (typeof init?.body === 'string') {
      try {
        const body = JSON.parse(init.body) as { method?: string; params?: { name?: string } };
        if (body.method) evidence.rpc = body.method === 'tools/call' ? `tools/call ${body.params?.name ?? '?'}` : body.method;
      } catch {
        // not JSON: no method to show
      }
    }
    const sid = merged.get('mcp-session-id');
    if (sid) evidence.session = idHash(sid);
    try {
      const res = await fetch(url, { ...init, headers: merged });
      evidence.status = res.status;
      const returned = res.headers.get('mcp-session-id');
      if (returned) wire.secret(returned);
      // The standalone GET stream and notifications say nothing about isolation: keep the evidence short.
      if (method !== 'GET' && evidence.rpc !== 'notifications/initialized') wire.record(evidence);
      return res;
    } catch (err) {
      evidence.error = (err as Error).message;
      wire.record(evidence);
      throw err;
    }
  };
}

function credentialHeaders(identity: McpIdentity): Record<string, string> {
  const headers: Record<string, string> = { ...identity.headers };
  if (identity.bearer) headers.authorization = `Bearer ${identity.bearer}`;
  return headers;
}

function answerOf(result: unknown): ToolAnswer {
  const r = result as Record<string, unknown>;
  const text = toolText(r);
  return { ok: r.isError !== true && r.resultType !== 'input_required', ...(text !== undefined ? { text } : {}) };
}

/** What both eras' SDK clients offer for tools (their types differ only in the schemas' detail). */
interface ToolClient {
  listTools(): Promise<{ tools: Array<{ name: string; inputSchema: unknown }> }>;
  callTool(params: { name: string; arguments: Record<string, unknown> }): Promise<unknown>;
}

/** `listTools` and `callTool` of a connection, over either era's client. */
function toolCalls(client: ToolClient): Pick<McpConnection, 'listTools' | 'callTool'> {
  return {
    async listTools() {
      const { tools } = await client.listTools();
      return tools.map((t) => ({ name: t.name, required: (t.inputSchema as { required?: string[] }).required ?? [] }));
    },
    async callTool(name, args = {}) {
      try {
        return answerOf(await client.callTool({ name, arguments: args }));
      } catch (err) {
        return refusalOf(err);
      }
    },
  };
}

function refusalOf(err: unknown): ToolAnswer {
  const e = err as { code?: unknown; message?: string };
  const answer: ToolAnswer = { ok: false, error: String(e.message ?? err).slice(0, 200) };
  if (typeof e.code === 'number' && e.code >= 100 && e.code < 600) answer.status = e.code;
  return answer;
}


export interface LegacyConnectOptions {
  step: string;
  /** Reuse this session id instead of initializing (what a client does to reconnect). */
  sessionId?: string;
  /** Leave the identity's credentials out (an anonymous connection). */
  anonymous?: boolean;
  /** Run the identity's `login` hook on the new session. The default value is `true`. */
  login?: boolean;
}

/** Connects with the 2025 client (`@modelcontextprotocol/sdk` 1.x), loaded on first use. */
export async function connectLegacy(wire: McpWire, identity: McpIdentity, options: LegacyConnectOptions): Promise<McpConnection> {
  const [{ Client }, { StreamableHTTPClientTransport }] = await Promise.all([
    import('@modelcontextprotocol/sdk/client/index.js'),
    import('@modelcontextprotocol/sdk/client/streamableHttp.js'),
  ]);
  const headers = options.anonymous ? {} : credentialHeaders(identity);
  for (const value of Object.values(headers)) wire.secret(value);
  const transport = new StreamableHTTPClientTransport(wire.url, {
    fetch: recordingFetch(wire, '2025', options.step, headers),
    reconnectionOptions: { maxRetries: 0, initialReconnectionDelay: 1000, maxReconnectionDelay: 1000, reconnectionDelayGrowFactor: 1 },
    ...(options.sessionId !== undefined ? { sessionId: options.sessionId } : {}),
  });
  const client = new Client(CLIENT_INFO, { capabilities: {} });
  // The standalone GET stream is opened in the background; its failures are not the attack's business.
  client.onerror = () => {};
  await client.connect(transport);
  const sessionId = transport.sessionId;
  wire.secret(sessionId);
  if (!options.anonymous && options.login !== false && identity.login && sessionId) {
    const added = await identity.login({ url: wire.url.href, sessionId });
    for (const [name, value] of Object.entries(added)) {
      wire.secret(value);
      headers[name.toLowerCase()] = value;
    }
  }
  return {
    era: '2025',
    sessionId,
    headers,
    ...toolCalls(client),
    async terminate() {
      await transport.terminateSession();
    },
    async close() {
      // End the sessions the suite opened (never one it resumed), so none count against a limit later.
      if (options.sessionId === undefined && sessionId !== undefined) await transport.terminateSession().catch(() => {});
      await client.close().catch(() => {});
    },
  };
}

/** Connects with the 2026-07-28 client (`@modelcontextprotocol/client` 2.x), loaded on first use. */
export async function connectModern(wire: McpWire, identity: McpIdentity, options: { step: string; anonymous?: boolean }): Promise<McpConnection> {
  const { Client, StreamableHTTPClientTransport } = await import('@modelcontextprotocol/client');
  const headers = options.anonymous ? {} : credentialHeaders(identity);
  for (const value of Object.values(headers)) wire.secret(value);
  const transport = new StreamableHTTPClientTransport(wire.url, { fetch: recordingFetch(wire, '2026-07-28', options.step, headers) });
  const client = new Client(CLIENT_INFO, { versionNegotiation: { mode: { pin: '2026-07-28' } }, capabilities: {} });
  client.onerror = () => {};
  await client.connect(transport);
  return {
    era: '2026-07-28',
    sessionId: undefined,
    headers,
    ...toolCalls(client),
    async terminate() {},
    async close() {
      await client.close().catch(() => {});
    },
  };
}
