import { describeCatalogue, notApplicable, type AttackInfo, type Verdict } from '../attacks/define.js';
import { TargetUnreachableError } from '../http.js';
import { summarize } from '../verdict.js';
import { MCP_CATALOGUE, type McpAttackDefinition } from './attacks.js';
import { connectLegacy, connectModern, type McpConnection } from './clients.js';
import { McpAttackContext, McpAttackSetupError, McpNotApplicable, said, type Markers } from './context.js';
import { resolveMcpOptions, type ResolvedMcpOptions } from './options.js';
import type { McpAttackId, McpAttackOptions, McpAttackResult, McpEra, McpReport, McpTargetFacts } from './types.js';
import { legacyRequest, McpWire, modernRequest } from './wire.js';

const KNOWN_IDS: ReadonlySet<string> = new Set(MCP_CATALOGUE.map((a) => a.id));

/** Tool names that, without arguments, conventionally report the caller. */
const IDENTITY_TOOL = /^(whoami|who_am_i|whoAmI|who-am-i|current_user|currentUser|get_current_user|get_me|me|identity|get_identity)$/i;

/** What the catalogue says about one attack, without running it. */
export type McpAttackInfo = AttackInfo<McpAttackId>;

/**
 * The MCP attack catalogue, in the order the suite runs it.
 *
 * @example
 * for (const attack of mcpAttacks) console.log(attack.id, attack.title);
 */
export const mcpAttacks: readonly McpAttackInfo[] = describeCatalogue(MCP_CATALOGUE);

function endpoint(target: string | URL): URL {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new TypeError(`runMcpAttacks: the target must be the URL of an MCP endpoint, e.g. http://127.0.0.1:3000/mcp; got ${JSON.stringify(String(target))}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`runMcpAttacks: the target must be an http(s) URL; got ${JSON.stringify(url.href)}`);
  return url;
}

function reasonOf(err: unknown): string {
  return String((err as Error).message ?? err).slice(0, 160);
}

/** Finds out which eras the server speaks, which tool names the caller, and how each user reads. */
async function probe(url: URL, options: ResolvedMcpOptions): Promise<{ facts: McpTargetFacts; markers: Partial<Record<McpEra, Markers>> }> {
  const wire = new McpWire(url, options.requestTimeoutMs);
  const opened: McpConnection[] = [];
  const facts: McpTargetFacts = { legacy: 'unsupported', modern: 'unsupported', identityTool: options.identityTool, notes: [] };
  const connections: Partial<Record<McpEra, McpConnection>> = {};
  const why: string[] = [];
  try {
    // A crafted ping first: an unreachable target is told apart from one that speaks no era.
    await wire.send({ method: 'POST', era: '2025', step: 'probe', body: legacyRequest('ping') });
    try {
      const conn = await connectLegacy(wire, options.victim, { step: 'probe' });
      opened.push(conn);
      connections['2025'] = conn;
      facts.legacy = conn.sessionId ? 'sessionful' : 'stateless';
    } catch (err) {
      if (err instanceof TargetUnreachableError) throw err;
      why.push(`2025: ${reasonOf(err)}`);
    }
    try {
      const conn = await connectModern(wire, options.victim, { step: 'probe' });
      opened.push(conn);
      connections['2026-07-28'] = conn;
      facts.modern = 'supported';
    } catch (err) {
      if (err instanceof TargetUnreachableError) throw err;
      why.push(`2026-07-28: ${reasonOf(err)}`);
      const headers: Record<string, string> = { ...options.victim.headers, ...(options.victim.bearer ? { authorization: `Bearer ${options.victim.bearer}` } : {}) };
      const discover = await wire.send({ method: 'POST', era: '2026-07-28', step: 'probe', headers, body: modernRequest('server/discover') });
      if (discover.status === 401 || discover.status === 403) {
        if (options.victim.bearer !== undefined || options.victim.headers !== undefined) {
          throw new McpAttackSetupError(`runMcpAttacks: the server speaks 2026-07-28 but refused the victim's credentials (${discover.status}); check the victim's bearer token`);
        }
        facts.notes.push(`the server speaks 2026-07-28 but wants a bearer token (${discover.status}); give victim and attacker one to attack that era`);
      }
    }
    const first = connections['2025'] ?? connections['2026-07-28'];
    if (!first) throw new McpAttackSetupError(`runMcpAttacks: no client of either era could connect to ${url.href} as the victim (${wire.redact(why.join('; '))})`);
    const tools = await first.listTools();
    if (facts.identityTool === undefined) {
      facts.identityTool = tools.find((t) => IDENTITY_TOOL.test(t.name) && t.required.length === 0)?.name;
      if (facts.identityTool === undefined) {
        throw new McpAttackSetupError(
          `runMcpAttacks: no tool reports the caller; name one that does with identityTool (--identity-tool). Tools listed: ${tools.map((t) => t.name).join(', ') || 'none'}`,
        );
      }
    } else if (!tools.some((t) => t.name === facts.identityTool)) {
      throw new McpAttackSetupError(`runMcpAttacks: the identity tool ${JSON.stringify(facts.identityTool)} is not listed; tools: ${tools.map((t) => t.name).join(', ')}`);
    }
    const markers: Partial<Record<McpEra, Markers>> = {};
    for (const [era, victim] of Object.entries(connections) as Array<[McpEra, McpConnection]>) {
      const attacker = era === '2025' ? await connectLegacy(wire, options.attacker, { step: 'probe' }) : await connectModern(wire, options.attacker, { step: 'probe' });
      opened.push(attacker);
      const v = await victim.callTool(facts.identityTool);
      const a = await attacker.callTool(facts.identityTool);
      for (const [role, answer] of [['victim', v], ['attacker', a]] as const) {
        if (!answer.ok || answer.text === undefined) {
          throw new McpAttackSetupError(`runMcpAttacks: the ${role}'s call to ${facts.identityTool} (${era}) was ${wire.redact(said(answer))}; check the ${role}'s credentials`);
        }
      }
      markers[era] = { victim: v.text as string, attacker: a.text as string };
    }
    return { facts, markers };
  } finally {
    await Promise.all(opened.map((c) => c.close()));
  }
}

/** A probed MCP server with the attacks selected by the options, run one at a time. */
export class McpAttackRunner {
  readonly attacks: readonly McpAttackDefinition[];
  readonly #url: URL;
  readonly #options: ResolvedMcpOptions;
  readonly #facts: McpTargetFacts;
  readonly #markers: Partial<Record<McpEra, Markers>>;
  readonly #startedAt = new Date();

  private constructor(url: URL, options: ResolvedMcpOptions, facts: McpTargetFacts, markers: Partial<Record<McpEra, Markers>>) {
    this.#url = url;
    this.#options = options;
    this.#facts = facts;
    this.#markers = markers;
    this.attacks = MCP_CATALOGUE.filter((a) => (!options.only || options.only.has(a.id)) && !options.skip.has(a.id));
  }

  static async open(target: string | URL, options: McpAttackOptions): Promise<McpAttackRunner> {
    const url = endpoint(target);
    const resolved = resolveMcpOptions(options, KNOWN_IDS);
    const { facts, markers } = await probe(url, resolved);
    return new McpAttackRunner(url, resolved, facts, markers);
  }

  get facts(): McpTargetFacts {
    return { ...this.#facts, notes: [...this.#facts.notes] };
  }

  /** Runs one attack; never throws for what the server does, only when it is unreachable. */
  async run(id: McpAttackId): Promise<McpAttackResult> {
    const attack = MCP_CATALOGUE.find((a) => a.id === id);
    if (!attack) throw new Error(`runMcpAttacks: unknown attack ${JSON.stringify(id)}`);
    const ctx = new McpAttackContext(this.#url, this.#options, this.#facts, this.#markers);
    const started = performance.now();
    let verdict: Verdict;
    let structural = false;
    try {
      verdict = await attack.run(ctx);
    } catch (err) {
      if (err instanceof McpNotApplicable) {
        verdict = notApplicable(err.message);
        structural = err.structural;
      }
      else if (err instanceof TargetUnreachableError) throw err;
      else verdict = notApplicable(`the attack could not complete: ${reasonOf(err)}`);
    }
    const evidence = { requests: [...ctx.wire.requests], notes: [...ctx.wire.notes] };
    await ctx.cleanUp();
    return {
      id: attack.id,
      title: attack.title,
      standard: attack.standard,
      class: verdict.finding?.class ?? attack.class,
      severity: verdict.finding?.severity ?? attack.severity,
      core: attack.core === true && !structural,
      outcome: verdict.outcome,
      reason: ctx.wire.redact(verdict.reason),
      evidence,
      durationMs: Math.round(performance.now() - started),
    };
  }

  report(results: McpAttackResult[]): McpReport {
    return {
      target: this.#url.href,
      facts: this.facts,
      startedAt: this.#startedAt.toISOString(),
      durationMs: Date.now() - this.#startedAt.getTime(),
      results,
      summary: summarize(results, this.#options.failOn),
    };
  }
}

/**
 * Attacks a running MCP server (Streamable HTTP) with the official SDK clients of both
 * protocol eras, as a victim and an attacker, and reports for each attack whether the server
 * resisted it (`pass`), fell to it (`fail`) or could not be attacked that way
 * (`not-applicable`, with the reason: sessions in a stateless server, requestState without a
 * state tool, …), with the requests as evidence (session ids, tokens and states only as hashes).
 *
 * The MCP SDK clients are loaded when it runs, not when `fixation-guard/attack-suite` is
 * imported. Throws `McpAttackSetupError` when the server cannot be attacked as described (no
 * era connects, no tool names the caller, a user's credentials fail) and
 * `TargetUnreachableError` when nothing answers.
 *
 * @example
 * import { runMcpAttacks } from 'fixation-guard/attack-suite';
 *
 * const report = await runMcpAttacks('http://127.0.0.1:3000/mcp', {
 *   victim: { bearer: process.env.ALICE_TOKEN },
 *   attacker: { bearer: process.env.BOB_TOKEN },
 * });
 * if (!report.summary.secure) console.error(report.results.filter((r) => r.outcome === 'fail'));
 */
export async function runMcpAttacks(target: string | URL, options: McpAttackOptions): Promise<McpReport> {
  const runner = await McpAttackRunner.open(target, options);
  const results: McpAttackResult[] = [];
  for (const attack of runner.attacks) results.push(await runner.run(attack.id));
  return runner.report(results);
}
