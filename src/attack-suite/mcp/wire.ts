import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { idHash } from '../cookies.js';
import { TargetUnreachableError } from '../http.js';
import type { McpEra, McpEvidenceRequest } from './types.js';

/** The revision that still had JSON-RPC batches; crafted 2025 requests claim it. */
export const BATCH_PROTOCOL_VERSION = '2025-03-26';
export const LEGACY_PROTOCOL_VERSION = '2025-06-18';
export const MODERN_PROTOCOL_VERSION = '2026-07-28';
/** One client name and user agent for SDK and crafted requests alike, so a server's connection fingerprint sees one client. */
export const CLIENT_INFO = { name: 'fixation-guard-attack-mcp', version: '1.0.0' };
export const USER_AGENT = 'fixation-guard-attack-mcp/1.0';

const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': MODERN_PROTOCOL_VERSION,
  'io.modelcontextprotocol/clientInfo': CLIENT_INFO,
  'io.modelcontextprotocol/clientCapabilities': { elicitation: {} },
};

export interface JsonRpcMessage {
  jsonrpc?: string;
  id?: string | number | null;
  method?: string;
  result?: Record<string, unknown>;
  error?: { code?: number; message?: string; data?: unknown };
}

export interface WireResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** JSON-RPC messages of the body (JSON or SSE). */
  messages: JsonRpcMessage[];
}

export interface WireRequest {
  method: 'POST' | 'GET' | 'DELETE';
  era: McpEra;
  /** For the evidence: who does what. */
  step: string;
  headers?: Record<string, string>;
  body?: unknown;
  /** Headers worth showing in the evidence (never credentials). */
  shown?: string[];
}

/** An open GET stream (2025 standalone SSE stream). */
export interface OpenStream {
  status: number;
  /** Resolves with the time it closed, in ms since it opened. */
  closed: Promise<number>;
  close(): void;
}

let nextId = 1;

/** A JSON-RPC request of the 2025 era. */
export function legacyRequest(method: string, params: Record<string, unknown> = {}): JsonRpcMessage & { params: Record<string, unknown> } {
  return { jsonrpc: '2.0', id: `fg-${nextId++}`, method, params };
}

/** A JSON-RPC request of the 2026-07-28 era: the per-request `_meta` envelope on every request. */
export function modernRequest(method: string, params: Record<string, unknown> = {}): JsonRpcMessage & { params: Record<string, unknown> } {
  return { jsonrpc: '2.0', id: `fg-${nextId++}`, method, params: { ...params, _meta: MODERN_META } };
}

export function initializeRequest(): JsonRpcMessage & { params: Record<string, unknown> } {
  return legacyRequest('initialize', {
    protocolVersion: LEGACY_PROTOCOL_VERSION,
    capabilities: {},
    clientInfo: CLIENT_INFO,
  });
}

/** Headers every crafted request carries, per era. */
export function eraHeaders(era: McpEra, protocolVersion?: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'user-agent': USER_AGENT,
    'mcp-protocol-version': protocolVersion ?? (era === '2025' ? LEGACY_PROTOCOL_VERSION : MODERN_PROTOCOL_VERSION),
  };
}

/** Parses a JSON or SSE body into its JSON-RPC messages; anything else yields none. */
export function parseBody(contentType: string | undefined, text: string): JsonRpcMessage[] {
  const out: JsonRpcMessage[] = [];
  const push = (value: unknown) => {
    if (Array.isArray(value)) for (const v of value) push(v);
    else if (value && typeof value === 'object') out.push(value as JsonRpcMessage);
  };
  try {
    if (contentType?.includes('text/event-stream')) {
      for (const event of text.split(/\r?\n\r?\n/)) {
        const data = event
          .split(/\r?\n/)
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).trimStart())
          .join('\n');
        if (data) push(JSON.parse(data));
      }
    } else if (text.trim()) {
      push(JSON.parse(text));
    }
  } catch {
    // A body that is not JSON-RPC carries no messages; the status speaks for it.
  }
  return out;
}

/**
 * The suite's own HTTP client for crafted requests (a forged Host, a foreign Origin, a batch,
 * a tampered token), which the SDK clients cannot send. It records every exchange as evidence,
 * with every secret it was told about replaced by its hash.
 */
export class McpWire {
  readonly url: URL;
  readonly #timeoutMs: number;
  readonly #secrets = new Set<string>();
  readonly requests: McpEvidenceRequest[] = [];
  readonly notes: string[] = [];

  constructor(url: URL, timeoutMs: number) {
    this.url = url;
    this.#timeoutMs = timeoutMs;
  }

  /** A session id, token or state that must never appear in the evidence. */
  secret(value: string | undefined): void {
    if (value && value.length >= 4) this.#secrets.add(value);
  }

  redact(text: string): string {
    let out = text;
    for (const secret of [...this.#secrets].sort((a, b) => b.length - a.length)) out = out.split(secret).join(idHash(secret));
    return out;
  }

  note(text: string): void {
    this.notes.push(this.redact(text));
  }

  record(entry: McpEvidenceRequest): void {
    const clean: McpEvidenceRequest = { ...entry, step: this.redact(entry.step) };
    if (entry.answer !== undefined) clean.answer = this.redact(entry.answer);
    if (entry.error !== undefined) clean.error = this.redact(entry.error);
    if (entry.headers) clean.headers = entry.headers.map((h) => this.redact(h));
    this.requests.push(clean);
  }

  #open(method: string, headers: Record<string, string>, body: string | undefined): Promise<IncomingMessage> {
    const send = this.url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(this.url, { method, headers: { ...headers, ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) } }, resolve);
      req.setTimeout(this.#timeoutMs, () => req.destroy(new Error(`no answer within ${this.#timeoutMs} ms`)));
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ECONNREFUSED' || err.code === 'ENOTFOUND' || err.code === 'EHOSTUNREACH') {
          reject(new TargetUnreachableError(`runMcpAttacks: ${this.url.href} does not answer (${err.code})`));
        } else reject(err);
      });
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  /** Sends one request, reads the whole answer, records it. */
  async send(request: WireRequest): Promise<WireResponse> {
    const headers = { ...eraHeaders(request.era), ...request.headers };
    if (request.method !== 'POST') delete headers['content-type'];
    Object.assign(headers, mirroredHeaders(request.era, request.body), request.headers);
    const body = request.body === undefined ? undefined : JSON.stringify(request.body);
    const evidence: McpEvidenceRequest = { step: request.step, era: request.era, method: request.method };
    const rpc = rpcNames(request.body);
    if (rpc) evidence.rpc = rpc;
    const sid = headers['mcp-session-id'];
    if (sid) evidence.session = idHash(sid);
    if (request.shown?.length) evidence.headers = request.shown;
    try {
      const res = await this.#open(request.method, headers, body);
      const text = await readAll(res);
      const messages = parseBody(res.headers['content-type'], text);
      evidence.status = res.statusCode ?? 0;
      const answer = describe(messages);
      if (answer) evidence.answer = answer;
      this.record(evidence);
      return { status: res.statusCode ?? 0, headers: res.headers, messages };
    } catch (err) {
      if (err instanceof TargetUnreachableError) throw err;
      evidence.error = (err as Error).message;
      this.record(evidence);
      return { status: 0, headers: {}, messages: [] };
    }
  }

  /** Opens a GET event stream and keeps it open until the server or `close()` ends it. */
  async openStream(step: string, headers: Record<string, string>): Promise<OpenStream> {
    const all: Record<string, string> = { ...eraHeaders('2025'), accept: 'text/event-stream', ...headers };
    delete all['content-type'];
    const evidence: McpEvidenceRequest = { step, era: '2025', method: 'GET' };
    if (all['mcp-session-id']) evidence.session = idHash(all['mcp-session-id']);
    const opened = performance.now();
    const res = await this.#open('GET', all, undefined);
    evidence.status = res.statusCode ?? 0;
    this.record(evidence);
    const closed = new Promise<number>((resolve) => {
      const done = () => resolve(Math.round(performance.now() - opened));
      res.on('end', done);
      res.on('close', done);
      res.on('error', done);
      res.resume();
    });
    return { status: res.statusCode ?? 0, closed, close: () => res.destroy() };
  }
}

/**
 * The 2026-07-28 era mirrors the method and the name of a request into headers (SEP-2243), and
 * a server refuses a body and headers that disagree; the SDK client sends them, so does the suite.
 */
function mirroredHeaders(era: McpEra, body: unknown): Record<string, string> {
  if (era !== '2026-07-28' || Array.isArray(body) || typeof body !== 'object' || body === null) return {};
  const { method, params } = body as { method?: unknown; params?: { name?: unknown; uri?: unknown } };
  if (typeof method !== 'string') return {};
  const headers: Record<string, string> = { 'mcp-method': method };
  const name = method === 'resources/read' ? params?.uri : method === 'tools/call' || method === 'prompts/get' ? params?.name : undefined;
  if (typeof name === 'string' && /^[\x21-\x7e]*$/.test(name)) headers['mcp-name'] = name;
  return headers;
}

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

function rpcNames(body: unknown): string | undefined {
  if (Array.isArray(body)) {
    const first = (body[0] as JsonRpcMessage | undefined)?.method ?? '?';
    return `batch of ${body.length} × ${first}`;
  }
  const method = (body as JsonRpcMessage | undefined)?.method;
  if (method !== 'tools/call') return method;
  const name = ((body as { params?: { name?: unknown } }).params?.name as string | undefined) ?? '?';
  return `tools/call ${name}`;
}

/** A short description of what came back: the JSON-RPC error, or the text of a tool result. */
export function describe(messages: readonly JsonRpcMessage[]): string | undefined {
  if (messages.length > 1) {
    const results = messages.filter((m) => m.result !== undefined).length;
    return `${messages.length} answers, ${results} results`;
  }
  const message = messages[0];
  if (!message) return undefined;
  if (message.error) return `error ${message.error.code ?? '?'}: ${String(message.error.message ?? '').slice(0, 80)}`;
  if (message.result) {
    const text = toolText(message.result);
    if (message.result.resultType === 'input_required') return 'input_required';
    if (text !== undefined) return `${message.result.isError ? 'tool error' : 'tool answered'} ${JSON.stringify(text.slice(0, 80))}`;
    return 'result';
  }
  return undefined;
}

/** The text content of a tool result, joined. */
export function toolText(result: Record<string, unknown> | undefined): string | undefined {
  const content = result?.content;
  if (!Array.isArray(content)) return undefined;
  return content
    .filter((c): c is { type: 'text'; text: string } => typeof c === 'object' && c !== null && (c as { type?: unknown }).type === 'text')
    .map((c) => c.text)
    .join('\n');
}
