import { connectLegacy, connectModern, type McpConnection, type ToolAnswer } from './clients.js';
import type { ResolvedMcpOptions } from './options.js';
import type { McpEra, McpIdentity, McpTargetFacts } from './types.js';
import { describe, eraHeaders, initializeRequest, legacyRequest, modernRequest, toolText, McpWire, type WireResponse } from './wire.js';

/** Thrown by an attack that cannot be run against this server; the reason becomes the result. */
export class McpNotApplicable extends Error {
  override readonly name = 'McpNotApplicable';
  /** The server lacks what the attack targets (an era, sessions): nothing is left undecided. */
  readonly structural: boolean;

  constructor(message: string, options: { structural?: boolean } = {}) {
    super(message);
    this.structural = options.structural === true;
  }
}

/** The server cannot be attacked as described (no era spoken, no identity tool, bad credentials). */
export class McpAttackSetupError extends Error {
  override readonly name = 'McpAttackSetupError';
}

/** What each identity's identity tool answered, per era: how the suite recognises the victim. */
export interface Markers {
  victim: string;
  attacker: string;
}

export type Role = 'victim' | 'attacker';

/** Everything one attack needs; connections it opens are closed when it ends. */
export class McpAttackContext {
  readonly wire: McpWire;
  readonly options: ResolvedMcpOptions;
  readonly facts: McpTargetFacts;
  readonly markers: Partial<Record<McpEra, Markers>>;
  readonly #open: McpConnection[] = [];

  constructor(url: URL, options: ResolvedMcpOptions, facts: McpTargetFacts, markers: Partial<Record<McpEra, Markers>>) {
    this.wire = new McpWire(url, options.requestTimeoutMs);
    this.options = options;
    this.facts = facts;
    this.markers = markers;
    for (const identity of [options.victim, options.attacker]) {
      this.wire.secret(identity.bearer);
      for (const value of Object.values(identity.headers ?? {})) this.wire.secret(value);
    }
  }

  identity(role: Role): McpIdentity {
    return role === 'victim' ? this.options.victim : this.options.attacker;
  }

  get identityTool(): string {
    if (!this.facts.identityTool) throw new McpNotApplicable('no tool reports the caller (name one with identityTool)');
    return this.facts.identityTool;
  }

  /** The markers of an era; not applicable when the era is not spoken. */
  marks(era: McpEra): Markers {
    const markers = this.markers[era];
    if (!markers) throw new McpNotApplicable(`the server does not speak the ${era} era`, { structural: true });
    return markers;
  }

  /** Whether victim and attacker look different to the server in this era. */
  distinct(era: McpEra): boolean {
    const m = this.marks(era);
    return m.victim !== m.attacker;
  }

  /** True when an answer is the identity tool naming the victim. */
  isVictim(era: McpEra, answer: ToolAnswer | string | undefined): boolean {
    const text = typeof answer === 'string' || answer === undefined ? answer : answer.ok ? answer.text : undefined;
    return text !== undefined && text === this.marks(era).victim;
  }

  requireSessions(): void {
    if (this.facts.legacy === 'unsupported') throw new McpNotApplicable('the server does not speak the 2025 era, which has sessions', { structural: true });
    if (this.facts.legacy === 'stateless') throw new McpNotApplicable('the server serves the 2025 era without sessions (no Mcp-Session-Id)', { structural: true });
  }

  async legacy(role: Role | 'anonymous', step: string, options: { sessionId?: string; headers?: Record<string, string>; login?: boolean } = {}): Promise<McpConnection> {
    const identity: McpIdentity = options.headers ? { headers: options.headers } : role === 'anonymous' ? {} : this.identity(role);
    const conn = await connectLegacy(this.wire, identity, { step, ...(options.sessionId !== undefined ? { sessionId: options.sessionId } : {}), ...(options.login === false ? { login: false } : {}) });
    this.#open.push(conn);
    return conn;
  }

  async modern(role: Role, step: string): Promise<McpConnection> {
    const conn = await connectModern(this.wire, this.identity(role), { step });
    this.#open.push(conn);
    return conn;
  }

  /** Calls the identity tool on a connection and records what it answered. */
  async whoami(conn: McpConnection): Promise<ToolAnswer> {
    return conn.callTool(this.identityTool);
  }

  /** A crafted 2025 request: one JSON-RPC message or a batch, on a session or without one. */
  async legacyPost(step: string, body: unknown, options: { sessionId?: string; headers?: Record<string, string>; protocolVersion?: string; shown?: string[] } = {}): Promise<WireResponse> {
    const headers: Record<string, string> = { ...eraHeaders('2025', options.protocolVersion), ...options.headers };
    if (options.sessionId) headers['mcp-session-id'] = options.sessionId;
    return this.wire.send({ method: 'POST', era: '2025', step, headers, body, ...(options.shown ? { shown: options.shown } : {}) });
  }

  async modernPost(step: string, body: unknown, options: { headers?: Record<string, string>; shown?: string[] } = {}): Promise<WireResponse> {
    return this.wire.send({ method: 'POST', era: '2026-07-28', step, headers: { ...options.headers }, body, ...(options.shown ? { shown: options.shown } : {}) });
  }

  /** The identity tool called with a crafted request of an era. */
  async rawWhoami(era: McpEra, step: string, options: { sessionId?: string; headers?: Record<string, string>; shown?: string[] } = {}): Promise<{ res: WireResponse; answer: ToolAnswer }> {
    const res =
      era === '2025'
        ? await this.legacyPost(step, legacyRequest('tools/call', { name: this.identityTool, arguments: {} }), options)
        : await this.modernPost(step, modernRequest('tools/call', { name: this.identityTool, arguments: {} }), options);
    return { res, answer: answerOf(res) };
  }

  /**
   * Opens a 2025 session with crafted requests (initialize, initialized, then the login hook):
   * for attacks that must own every request of the session, such as holding its GET stream.
   */
  async rawSession(role: Role | 'anonymous', step: string): Promise<{ sessionId: string; headers: Record<string, string> }> {
    const identity = role === 'anonymous' ? {} : this.identity(role);
    const headers: Record<string, string> = { ...identity.headers };
    if (identity.bearer) headers.authorization = `Bearer ${identity.bearer}`;
    const init = await this.legacyPost(step, initializeRequest(), { headers });
    const sessionId = headerOf(init, 'mcp-session-id');
    if (!sessionId) throw new McpNotApplicable(`initialize answered ${init.status} without an Mcp-Session-Id`);
    this.wire.secret(sessionId);
    await this.legacyPost(`${step} (initialized)`, { jsonrpc: '2.0', method: 'notifications/initialized' }, { sessionId, headers });
    if (identity.login) {
      for (const [name, value] of Object.entries(await identity.login({ url: this.wire.url.href, sessionId }))) {
        this.wire.secret(value);
        headers[name.toLowerCase()] = value;
      }
    }
    return { sessionId, headers };
  }

  async cleanUp(): Promise<void> {
    await Promise.all(this.#open.map((c) => c.close()));
  }
}

export function headerOf(res: WireResponse, name: string): string | undefined {
  const value = res.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** How the identity tool's answer to a crafted request reads. */
export function answerOf(res: WireResponse): ToolAnswer {
  const message = res.messages.find((m) => m.result !== undefined || m.error !== undefined);
  if (res.status < 200 || res.status >= 300 || !message) {
    return { ok: false, status: res.status, error: describe(res.messages) ?? `HTTP ${res.status}` };
  }
  if (message.error) return { ok: false, status: res.status, error: describe([message]) ?? 'error' };
  const text = toolText(message.result);
  return { ok: message.result?.isError !== true && message.result?.resultType !== 'input_required', ...(text !== undefined ? { text } : {}), status: res.status };
}

/** A short account of an answer for reasons: `200 "alice"` or `404`. */
export function said(answer: ToolAnswer): string {
  if (answer.ok) return `answered ${JSON.stringify(answer.text ?? '')}`;
  return answer.status && answer.status !== 200 ? `refused (${answer.status})` : `refused (${answer.error ?? 'error'})`;
}
