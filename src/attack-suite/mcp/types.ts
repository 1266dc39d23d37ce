import type { AttackOutcome, AttackStandard, FailOn, FindingClass, RunSummary, Severity } from '../types.js';

/** Every attack of the MCP catalogue, by id. */
export type McpAttackId =
  | 'distinct-principals'
  | 'no-session-handout'
  | 'session-id-entropy'
  | 'unknown-session-refused'
  | 'stolen-session-id'
  | 'planted-session-id'
  | 'token-tampering'
  | 'state-cross-principal'
  | 'state-tampering'
  | 'foreign-origin'
  | 'rebinding-host'
  | 'session-limit'
  | 'revocation-cuts-streams'
  | 'batch-rate-limit';

/** The two protocol eras the suite speaks. */
export type McpEra = '2025' | '2026-07-28';

/**
 * Who the suite acts as. Give a bearer token (sent as `Authorization: Bearer` in both eras),
 * fixed headers, a `login` hook that authenticates a 2025 session the suite has just opened,
 * or several of them.
 */
export interface McpIdentity {
  /** A bearer token of this user, sent on every request. */
  bearer?: string;
  /** Headers sent on every request of this user (an API key, a cookie, …). */
  headers?: Record<string, string>;
  /**
   * Authenticates a 2025 session the suite opened (for servers whose login binds a session,
   * e.g. an OAuth callback): receives the session id and answers the headers to send on that
   * session from then on (e.g. `{ 'x-session-token': … }`).
   */
  login?: (session: { url: string; sessionId: string }) => Promise<Record<string, string>>;
}

/** One request of an attack and what came back. Session ids, tokens and states appear only as hashes. */
export interface McpEvidenceRequest {
  /** Who does what, e.g. `attacker calls whoami on the victim's session`. */
  step: string;
  era: McpEra;
  /** HTTP method. */
  method: string;
  /** The JSON-RPC method(s) sent. */
  rpc?: string;
  /** `#hash` of the `Mcp-Session-Id` sent. */
  session?: string;
  /** Notable headers sent (`Origin: …`, `Host: …`), never credentials. */
  headers?: string[];
  status?: number;
  /** What came back, in a few words (a JSON-RPC error code, the caller a tool reported, …). */
  answer?: string;
  error?: string;
}

/** The result of one attack. */
export interface McpAttackResult {
  id: McpAttackId;
  title: string;
  standard: AttackStandard;
  /** What a success of this attack means: an attacker reaches another user's session or data (`fixation`), or a defence in depth is missing (`hardening`). */
  class: FindingClass;
  severity: Severity;
  /** A core attack that applied to this server: when it cannot run, the run is inconclusive. */
  core: boolean;
  outcome: AttackOutcome;
  /** Why this outcome: what was tried, in which era, and what the server did. */
  reason: string;
  evidence: { requests: McpEvidenceRequest[]; notes: string[] };
  durationMs: number;
}

/** What the suite found out about the server before attacking it. */
export interface McpTargetFacts {
  /** `sessionful` when 2025 `initialize` answered an `Mcp-Session-Id`, `stateless` when it did not. */
  legacy: 'sessionful' | 'stateless' | 'unsupported';
  /** Whether a 2026-07-28 client could connect. */
  modern: 'supported' | 'unsupported';
  /** The tool that tells the caller apart. */
  identityTool: string | undefined;
  /** What the probe noticed that limits the run (an era it could not attack, and why). */
  notes: string[];
}

/** What `runMcpAttacks` returns. Serialisable with `JSON.stringify`. */
export interface McpReport {
  /** The MCP endpoint attacked. */
  target: string;
  facts: McpTargetFacts;
  startedAt: string;
  durationMs: number;
  results: McpAttackResult[];
  summary: RunSummary;
}

/** Describes the MCP server under attack. Only `victim` and `attacker` are required. */
export interface McpAttackOptions {
  /** The user whose session and data the attacker goes after. */
  victim: McpIdentity;
  /** A second, ordinary user of the same server. */
  attacker: McpIdentity;
  /**
   * A tool without required arguments whose answer names the caller (e.g. `whoami`). The
   * default value is the first listed tool named like whoami / current_user / me.
   */
  identityTool?: string;
  /**
   * A tool that answers `input_required` with a `requestState` (2026-07-28 multi-round-trip)
   * and, once the input is given, an answer that depends on the caller. Without it the
   * requestState attacks are not applicable.
   */
  stateTool?: { name: string; arguments?: Record<string, unknown> };
  /** The server's most sessions per user; without it `session-limit` is not applicable. */
  maxSessionsPerUser?: number;
  /**
   * The most JSON-RPC messages the server should run for one caller in one rate-limit window.
   * Without it `batch-rate-limit` can only pass a server that refuses batches.
   */
  rateLimit?: number;
  /** How many fresh session ids `session-id-entropy` samples. The default value is `32`. */
  entropySamples?: number;
  /** How long a stream may stay open after revocation (`'2s'` or milliseconds). The default value is `'2s'`. */
  revocationGrace?: number | string;
  /** Per-request timeout (`'10s'` or milliseconds). The default value is `'10s'`. */
  requestTimeout?: number | string;
  /** Which findings fail the run. The default value is `'fixation'`. */
  failOn?: FailOn;
  /** Run only these attacks. */
  only?: readonly McpAttackId[];
  /** Leave these attacks out. */
  skip?: readonly McpAttackId[];
}
