import { randomBytes, randomUUID } from 'node:crypto';
import { fail, notApplicable, pass, standard, type CatalogueAttack, type Verdict } from '../attacks/define.js';
import { estimateIdEntropy } from '../entropy.js';
import { answerOf, headerOf, McpNotApplicable, said, type McpAttackContext } from './context.js';
import { tamperVariants } from './tamper.js';
import type { McpAttackId, McpEra } from './types.js';
import { BATCH_PROTOCOL_VERSION, initializeRequest, legacyRequest, modernRequest, type JsonRpcMessage } from './wire.js';

/** One attack of the MCP catalogue. `run` returns a verdict or throws `McpNotApplicable`. */
export type McpAttackDefinition = CatalogueAttack<McpAttackId, McpAttackContext>;

/**
 * The session ids of the 2025 era: the MCP specification asks for a cryptographically secure
 * id and names a secure UUID as the example, whose version-4 form carries 122 random bits.
 */
export const MIN_MCP_SESSION_ID_BITS = 122;

const ATTACKER_ORIGIN = 'https://attacker.example';
const REBINDING_HOST = 'attacker.example';

const MCP_SESSIONS = 'MCP Security Best Practices: Session Hijacking';
const MCP_STATE = 'MCP 2026-07-28: requestState integrity and user binding';
const MCP_TRANSPORT = 'MCP Streamable HTTP: Security Warning (Origin, DNS rebinding)';

function eras(ctx: McpAttackContext): McpEra[] {
  const out: McpEra[] = [];
  if (ctx.facts.legacy !== 'unsupported') out.push('2025');
  if (ctx.facts.modern === 'supported') out.push('2026-07-28');
  return out;
}

/** Combines per-era verdicts: any failure fails, all not applicable is not applicable. */
function combine(verdicts: Array<[McpEra, Verdict]>): Verdict {
  const failed = verdicts.filter(([, v]) => v.outcome === 'fail');
  const passed = verdicts.filter(([, v]) => v.outcome === 'pass');
  const text = (list: Array<[McpEra, Verdict]>) => list.map(([era, v]) => `${era}: ${v.reason}`).join(' ');
  if (failed.length > 0) return fail(text(failed));
  if (passed.length > 0) return pass(text(verdicts));
  return notApplicable(text(verdicts) || 'no protocol era to attack');
}

async function perEra(ctx: McpAttackContext, run: (era: McpEra) => Promise<Verdict>): Promise<Verdict> {
  const verdicts: Array<[McpEra, Verdict]> = [];
  let structural = 0;
  for (const era of eras(ctx)) {
    try {
      verdicts.push([era, await run(era)]);
    } catch (err) {
      if (!(err instanceof McpNotApplicable)) throw err;
      verdicts.push([era, notApplicable(err.message)]);
      if (err.structural) structural++;
    }
  }
  const verdict = combine(verdicts);
  if (verdict.outcome === 'not-applicable' && structural === verdicts.length) throw new McpNotApplicable(verdict.reason, { structural: true });
  return verdict;
}

/** The victim's credentials as sent on one connection: a session (2025 sessionful) or none. */
async function victimCredentials(ctx: McpAttackContext, era: McpEra): Promise<{ sessionId?: string; headers: Record<string, string> }> {
  if (era === '2025' && ctx.facts.legacy === 'sessionful') {
    const conn = await ctx.legacy('victim', 'victim connects and authenticates');
    const check = await ctx.whoami(conn);
    if (!ctx.isVictim(era, check)) throw new McpNotApplicable(`the victim's own session did not answer as the victim (${said(check)})`);
    return { sessionId: conn.sessionId as string, headers: conn.headers };
  }
  const identity = ctx.identity('victim');
  const headers: Record<string, string> = { ...identity.headers };
  if (identity.bearer) headers.authorization = `Bearer ${identity.bearer}`;
  return { headers };
}

const distinctPrincipals: McpAttackDefinition = {
  id: 'distinct-principals',
  class: 'fixation',
  severity: 'critical',
  core: true,
  title: 'Two users are two principals: the server never takes the OAuth client id (or anything shared) for the user.',
  method: "Victim and attacker each call the identity tool with their own credentials; the server must tell them apart.",
  standard: standard(['4.1.3'], ['8.2.2'], [MCP_SESSIONS]),
  async run(ctx) {
    return perEra(ctx, async (era) => {
      const victim = era === '2025' ? await ctx.legacy('victim', 'victim connects') : await ctx.modern('victim', 'victim connects');
      const attacker = era === '2025' ? await ctx.legacy('attacker', 'attacker connects') : await ctx.modern('attacker', 'attacker connects');
      const v = await ctx.whoami(victim);
      const a = await ctx.whoami(attacker);
      if (!v.ok || !a.ok) throw new McpNotApplicable(`the identity tool did not answer both users (victim ${said(v)}, attacker ${said(a)})`);
      if (v.text === a.text) {
        return fail(`victim and attacker are one principal to the server: ${ctx.identityTool} answered ${JSON.stringify(v.text)} to both, so every limit, ACL and session check between them is void (is the OAuth client id taken for the user?).`);
      }
      return pass(`the server tells them apart (${JSON.stringify(v.text)} and ${JSON.stringify(a.text)}).`);
    });
  },
};

const noSessionHandout: McpAttackDefinition = {
  id: 'no-session-handout',
  class: 'fixation',
  severity: 'critical',
  core: true,
  title: 'A connection without a session id is never handed an existing session.',
  method: 'The victim opens a session; then a new SDK client connects without one, and crafted requests without Mcp-Session-Id (anonymous and as the attacker) call the identity tool.',
  standard: standard(['3.2.1', '3.3.1'], ['7.2.1', '7.2.4'], [MCP_SESSIONS]),
  async run(ctx) {
    ctx.requireSessions();
    const victim = await ctx.legacy('victim', 'victim connects and authenticates');
    const victimId = victim.sessionId as string;
    const findings: string[] = [];
    // Right after the victim's session opened, it is the most recent one: what a server that
    // falls back to "the latest session" hands out.
    for (const [who, headers] of [
      ['anonymous', {}],
      ['attacker', bearerHeaders(ctx, 'attacker')],
    ] as const) {
      const { answer } = await ctx.rawWhoami('2025', `${who} calls ${ctx.identityTool} without Mcp-Session-Id`, { headers });
      if (ctx.isVictim('2025', answer)) findings.push(`a request without a session id (${who}) was served the victim's session: ${said(answer)}`);
    }
    const fresh = await ctx.legacy('anonymous', 'a new client connects without a session id');
    if (fresh.sessionId === victimId) findings.push("a new client's initialize was answered with the victim's session id");
    const freshWho = await ctx.whoami(fresh);
    if (ctx.isVictim('2025', freshWho)) findings.push(`the new client's session answers as the victim (${said(freshWho)})`);
    if (findings.length > 0) return fail(`${findings.join('; ')}.`);
    return pass(`a new client got a new session and requests without a session id reached nothing of the victim's (${said(freshWho)}).`);
  },
};

const sessionIdEntropy: McpAttackDefinition = {
  id: 'session-id-entropy',
  class: 'fixation',
  severity: 'high',
  title: `Session ids are unpredictable: at least ${MIN_MCP_SESSION_ID_BITS} bits of entropy, never repeated, no counter or clock.`,
  method: 'Opens many fresh sessions (initialize without a session id), estimates the entropy of their ids and looks for repeats and sequences; ends each session again.',
  standard: standard(['3.2.2', '3.2.4'], ['7.2.3'], ['Session ID Entropy']),
  async run(ctx) {
    ctx.requireSessions();
    const ids: string[] = [];
    let headers: Record<string, string> = {};
    for (let i = 0; i < ctx.options.entropySamples; i++) {
      let init = await ctx.legacyPost(`fresh session ${i + 1}`, initializeRequest(), { headers });
      if (i === 0 && (init.status === 401 || init.status === 403)) {
        const identity = ctx.identity('attacker');
        headers = { ...identity.headers, ...(identity.bearer ? { authorization: `Bearer ${identity.bearer}` } : {}) };
        init = await ctx.legacyPost(`fresh session ${i + 1} (as the attacker)`, initializeRequest(), { headers });
      }
      const id = headerOf(init, 'mcp-session-id');
      if (!id) throw new McpNotApplicable(`initialize ${i + 1} answered ${init.status} without a session id`);
      ctx.wire.secret(id);
      ids.push(id);
      await ctx.wire.send({ method: 'DELETE', era: '2025', step: `ends fresh session ${i + 1}`, headers: { ...headers, 'mcp-session-id': id } });
    }
    const estimate = estimateIdEntropy(ids);
    ctx.wire.note(`${ids.length} ids, ${estimate.length} characters, alphabet ${estimate.alphabet}, ${estimate.constantPositions} constant and ${estimate.lowVarietyPositions} low-variety positions`);
    if (estimate.repeats > 0) return fail(`${estimate.repeats} of ${ids.length} fresh session ids repeated an earlier one.`);
    if (estimate.sequential) return fail(`${estimate.sequential}.`);
    if (estimate.bits < MIN_MCP_SESSION_ID_BITS) return fail(`the session ids carry about ${estimate.bits} bits of entropy, below ${MIN_MCP_SESSION_ID_BITS}.`);
    return pass(`about ${estimate.bits} bits of entropy over ${ids.length} fresh ids, no repeats, no sequence.`);
  },
};

const unknownSessionRefused: McpAttackDefinition = {
  id: 'unknown-session-refused',
  class: 'fixation',
  severity: 'high',
  core: true,
  title: 'An unknown or deleted session id is refused with 404, never adopted.',
  method: 'Calls the identity tool under a forged UUID, a forged random string, and the victim\'s session id after the victim deleted it.',
  standard: standard(['3.2.1', '3.3.1'], ['7.2.1', '7.4.1'], [MCP_SESSIONS, 'Session ID Generation and Verification: Permissive and Strict Session Management']),
  async run(ctx) {
    ctx.requireSessions();
    const { sessionId, headers } = await ctx.rawSession('victim', 'victim opens a session');
    const deleted = await ctx.wire.send({ method: 'DELETE', era: '2025', step: 'victim deletes the session', headers: { ...headers, 'mcp-session-id': sessionId } });
    const findings: string[] = [];
    const checks: Array<[string, string]> = [
      ['a forged UUID', randomUUID()],
      ['a forged random id', randomBytes(24).toString('base64url')],
    ];
    if (deleted.status >= 200 && deleted.status < 300) checks.push(["the victim's deleted session id", sessionId]);
    else ctx.wire.note(`the victim's DELETE answered ${deleted.status}; the deleted-id check was left out`);
    for (const [what, id] of checks) {
      ctx.wire.secret(id);
      const { res, answer } = await ctx.rawWhoami('2025', `calls ${ctx.identityTool} under ${what}`, { sessionId: id, headers });
      if (answer.ok) findings.push(`${what} was served (${said(answer)}) instead of 404`);
      else if (res.status !== 404) findings.push(`${what} was refused with ${res.status}, not 404 (the protocol's signal to start a new session)`);
    }
    ctx.wire.note('expiry by timeout is not attacked: the suite cannot move the server\'s clock');
    if (findings.length > 0) return fail(`${findings.join('; ')}.`);
    return pass(`${checks.map(([what]) => what).join(', ')}: each answered 404.`);
  },
};

const stolenSessionId: McpAttackDefinition = {
  id: 'stolen-session-id',
  class: 'fixation',
  severity: 'critical',
  core: true,
  title: "The victim's session id, with the attacker's credentials or none, reaches nothing of the victim's.",
  method: "An SDK client resumes the victim's session id (as clients do to reconnect) with the attacker's own credentials, then with none, and calls the identity tool.",
  standard: standard(['3.2.1', '3.5.2'], ['7.2.1', '7.5.3'], [MCP_SESSIONS]),
  async run(ctx) {
    ctx.requireSessions();
    const victim = await ctx.legacy('victim', 'victim connects and authenticates');
    const sessionId = victim.sessionId as string;
    const own = await ctx.whoami(victim);
    if (!ctx.isVictim('2025', own)) throw new McpNotApplicable(`the victim's session did not answer as the victim (${said(own)})`);
    const attackerOwn = await ctx.legacy('attacker', 'attacker connects and authenticates a session of their own');
    const findings: string[] = [];
    const tries: Array<[string, Record<string, string>]> = [
      ["with the attacker's credentials", attackerOwn.headers],
      ['with no credentials', {}],
    ];
    const seen: string[] = [];
    for (const [how, headers] of tries) {
      let answer;
      try {
        const thief = await ctx.legacy('attacker', `attacker resumes the victim's session ${how}`, { sessionId, headers, login: false });
        answer = await ctx.whoami(thief);
      } catch (err) {
        answer = { ok: false, error: (err as Error).message };
      }
      seen.push(`${how}: ${said(answer)}`);
      const reveals = ctx.isVictim('2025', answer) && (how === 'with no credentials' || ctx.distinct('2025'));
      if (reveals) findings.push(`${how}, the victim's session answered as the victim (${said(answer)})`);
    }
    if (!ctx.distinct('2025')) ctx.wire.note('victim and attacker look the same to the server (see distinct-principals): only the try without credentials is judged');
    if (findings.length > 0) return fail(`${findings.join('; ')}.`);
    return pass(`${seen.join('; ')}.`);
  },
};

const plantedSessionId: McpAttackDefinition = {
  id: 'planted-session-id',
  class: 'fixation',
  severity: 'critical',
  core: true,
  title: 'A session id planted by the attacker is worth nothing to the attacker after the victim authenticates on it.',
  method: 'The attacker opens a session, the victim connects with that session id and authenticates (fixation); the attacker then uses the id, without and with own credentials.',
  standard: standard(['3.2.1'], ['7.2.4'], [MCP_SESSIONS, 'Renew the Session ID After Any Privilege Level Change']),
  async run(ctx) {
    ctx.requireSessions();
    let planted;
    try {
      planted = await ctx.legacy('anonymous', 'attacker opens an anonymous session to plant');
    } catch {
      planted = await ctx.legacy('attacker', 'attacker opens a session of their own to plant');
    }
    const sessionId = planted.sessionId as string;
    let victimAnswer;
    try {
      const victim = await ctx.legacy('victim', 'victim connects with the planted session id and authenticates', { sessionId });
      victimAnswer = await ctx.whoami(victim);
    } catch (err) {
      victimAnswer = { ok: false, error: (err as Error).message };
    }
    const attackerOwn = await ctx.legacy('attacker', 'attacker connects a session of their own');
    const findings: string[] = [];
    const tries: Array<[string, Record<string, string>]> = [
      ['with no credentials', {}],
      ["with the attacker's credentials", attackerOwn.headers],
    ];
    for (const [how, headers] of tries) {
      const { answer } = await ctx.rawWhoami('2025', `attacker uses the planted id ${how}`, { sessionId, headers });
      if (ctx.isVictim('2025', answer) && (how === 'with no credentials' || ctx.distinct('2025'))) findings.push(`${how}, the planted id answers as the victim (${said(answer)})`);
    }
    if (findings.length > 0) return fail(`the victim authenticated on the planted id (${said(victimAnswer)}); ${findings.join('; ')}.`);
    return pass(`the victim on the planted id: ${said(victimAnswer)}; the attacker reached nothing of the victim's through it.`);
  },
};

const tokenTampering: McpAttackDefinition = {
  id: 'token-tampering',
  class: 'fixation',
  severity: 'critical',
  core: true,
  title: "A tampered, truncated or re-signed copy of the victim's token is refused.",
  method: "Sends the victim's credentials (bearer token or session token) altered: a character changed, truncated, the payload changed under the old signature, re-signed with a foreign key, alg none.",
  standard: standard(['3.5.3'], ['9.1.1', '9.1.2'], ['Session ID Content (or Value)']),
  async run(ctx) {
    return perEra(ctx, async (era) => {
      const { sessionId, headers } = await victimCredentials(ctx, era);
      const control = await ctx.rawWhoami(era, 'victim calls with the genuine credentials', { headers, ...(sessionId ? { sessionId } : {}) });
      if (!ctx.isVictim(era, control.answer)) throw new McpNotApplicable(`the genuine credentials did not answer as the victim (${said(control.answer)})`);
      if (sessionId) {
        const bare = await ctx.rawWhoami(era, "the victim's session id without credentials (control)", { sessionId });
        if (ctx.isVictim(era, bare.answer)) throw new McpNotApplicable('the session id alone reaches the victim (see stolen-session-id), so altered credentials prove nothing');
      }
      // Only a credential the server needs is worth altering: with a bearer and a session token,
      // a server that reads only one of them would otherwise seem to accept a forged other.
      const credentials: Array<[string, string]> = [];
      for (const [name, value] of Object.entries(headers).filter(([, v]) => v.length >= 8)) {
        const rest = Object.fromEntries(Object.entries(headers).filter(([n]) => n !== name));
        const without = await ctx.rawWhoami(era, `victim calls without ${name} (control)`, { headers: rest, ...(sessionId ? { sessionId } : {}) });
        if (ctx.isVictim(era, without.answer)) ctx.wire.note(`${name} is not needed to reach the victim in ${era}; it is not altered`);
        else credentials.push([name, value]);
      }
      if (credentials.length === 0) throw new McpNotApplicable('the victim sends no credential the server needs');
      const accepted: string[] = [];
      let tried = 0;
      for (const [name, value] of credentials) {
        const bearer = /^bearer /i.test(value) ? value.slice(7) : undefined;
        for (const variant of tamperVariants(bearer ?? value, true)) {
          tried++;
          const altered = bearer !== undefined ? `Bearer ${variant.value}` : variant.value;
          ctx.wire.secret(variant.value);
          const { answer } = await ctx.rawWhoami(era, `${name}: ${variant.how}`, { headers: { ...headers, [name]: altered }, ...(sessionId ? { sessionId } : {}) });
          if (ctx.isVictim(era, answer)) accepted.push(`${name} with ${variant.how}`);
        }
      }
      ctx.wire.note('expired tokens are not attacked: the suite cannot move the server\'s clock');
      if (accepted.length > 0) return fail(`the server took altered credentials for the victim: ${accepted.join('; ')}.`);
      return pass(`${tried} altered copies of ${credentials.map(([n]) => n).join(', ')}: none reached the victim.`);
    });
  },
};

/** Answers for the embedded input requests of an `input_required` result. */
function inputResponses(result: Record<string, unknown>): Record<string, unknown> {
  const requests = (result.inputRequests ?? {}) as Record<string, { method?: string; params?: { requestedSchema?: { properties?: Record<string, { type?: string; enum?: unknown[] }> } } }>;
  const out: Record<string, unknown> = {};
  for (const [key, request] of Object.entries(requests)) {
    if (request.method !== 'elicitation/create') throw new McpNotApplicable(`the state tool asks for ${request.method ?? 'an unknown input'}, which the suite does not answer`);
    const content: Record<string, unknown> = {};
    for (const [field, schema] of Object.entries(request.params?.requestedSchema?.properties ?? {})) {
      content[field] = schema.enum?.[0] ?? (schema.type === 'boolean' ? true : schema.type === 'number' || schema.type === 'integer' ? 1 : 'yes');
    }
    out[key] = { action: 'accept', content };
  }
  return out;
}

interface StateRound {
  state: string;
  responses: Record<string, unknown>;
}

async function firstRound(ctx: McpAttackContext, role: 'victim' | 'attacker'): Promise<StateRound> {
  const tool = ctx.options.stateTool;
  if (!tool) throw new McpNotApplicable('no tool that answers input_required was named (stateTool / --state-tool)');
  const headers = bearerHeaders(ctx, role);
  const res = await ctx.modernPost(`${role} calls ${tool.name}`, modernRequest('tools/call', { name: tool.name, arguments: tool.arguments }), { headers });
  const result = res.messages.find((m) => m.result)?.result;
  if (!result || result.resultType !== 'input_required' || typeof result.requestState !== 'string') {
    throw new McpNotApplicable(`${tool.name} did not answer input_required with a requestState (HTTP ${res.status})`);
  }
  ctx.wire.secret(result.requestState);
  return { state: result.requestState, responses: inputResponses(result) };
}

async function secondRound(ctx: McpAttackContext, role: 'victim' | 'attacker', step: string, round: StateRound, state: string) {
  const tool = ctx.options.stateTool as { name: string; arguments: Record<string, unknown> };
  const body = modernRequest('tools/call', { name: tool.name, arguments: tool.arguments, inputResponses: round.responses, requestState: state });
  return answerOf(await ctx.modernPost(step, body, { headers: bearerHeaders(ctx, role) }));
}

function bearerHeaders(ctx: McpAttackContext, role: 'victim' | 'attacker'): Record<string, string> {
  const identity = ctx.identity(role);
  return { ...identity.headers, ...(identity.bearer ? { authorization: `Bearer ${identity.bearer}` } : {}) };
}

function requireModern(ctx: McpAttackContext): void {
  if (ctx.facts.modern !== 'supported') throw new McpNotApplicable('the server does not speak the 2026-07-28 era, which has requestState', { structural: true });
}

const stateCrossPrincipal: McpAttackDefinition = {
  id: 'state-cross-principal',
  class: 'fixation',
  severity: 'critical',
  title: "The victim's requestState, echoed under the attacker's identity, reaches nothing of the victim's.",
  method: "The victim starts a multi-round-trip call and receives a requestState; the attacker completes the call with that state and their own bearer token.",
  standard: standard(['3.5.3'], ['9.1.1', '9.2.3'], [MCP_STATE]),
  async run(ctx) {
    requireModern(ctx);
    const victim = await firstRound(ctx, 'victim');
    const victimDone = await secondRound(ctx, 'victim', 'victim completes the call with their own state', victim, victim.state);
    if (!victimDone.ok) throw new McpNotApplicable(`the victim could not complete their own call (${said(victimDone)})`);
    const attacker = await firstRound(ctx, 'attacker');
    const attackerDone = await secondRound(ctx, 'attacker', 'attacker completes a call with their own state', attacker, attacker.state);
    const crossed = await secondRound(ctx, 'attacker', "attacker completes a call with the victim's state", attacker, victim.state);
    if (!crossed.ok) return pass(`the victim's state under the attacker's identity was ${said(crossed)}.`);
    if (crossed.text === victimDone.text && victimDone.text !== attackerDone.text) {
      return fail(`the attacker completed the call with the victim's requestState and got the victim's answer (${JSON.stringify(crossed.text)}, the attacker's own is ${JSON.stringify(attackerDone.text)}): the state is not bound to its principal.`);
    }
    return pass(`the victim's state was accepted under the attacker's identity but answered ${JSON.stringify(crossed.text)}, nothing of the victim's.`);
  },
};

const stateTampering: McpAttackDefinition = {
  id: 'state-tampering',
  class: 'fixation',
  severity: 'high',
  title: "A tampered, truncated or re-signed requestState is refused, never acted on.",
  method: "The victim starts a multi-round-trip call and completes it with altered copies of the requestState: a character changed, truncated, the payload changed under the old MAC, re-signed with a foreign key.",
  standard: standard(['3.5.3'], ['9.1.1'], [MCP_STATE]),
  async run(ctx) {
    requireModern(ctx);
    const round = await firstRound(ctx, 'victim');
    const genuine = await secondRound(ctx, 'victim', 'victim completes the call with the genuine state', round, round.state);
    if (!genuine.ok) throw new McpNotApplicable(`the victim could not complete the call with the genuine state (${said(genuine)})`);
    const actedOn: string[] = [];
    const variants = tamperVariants(round.state, false);
    for (const variant of variants) {
      ctx.wire.secret(variant.value);
      const answer = await secondRound(ctx, 'victim', `victim completes the call with the state ${variant.how}`, round, variant.value);
      if (answer.ok && answer.text !== genuine.text) actedOn.push(`${variant.how} → ${JSON.stringify(answer.text)}`);
      else if (answer.ok) ctx.wire.note(`state ${variant.how} was accepted but changed nothing`);
    }
    ctx.wire.note('expired states are not attacked: the suite cannot move the server\'s clock');
    if (actedOn.length > 0) return fail(`the server acted on forged state instead of refusing it: ${actedOn.join('; ')}.`);
    return pass(`${variants.length} altered states: none was acted on.`);
  },
};

async function headerAttack(ctx: McpAttackContext, header: 'origin' | 'host', value: string): Promise<Verdict> {
  return perEra(ctx, async (era) => {
    const { sessionId, headers } = await victimCredentials(ctx, era);
    const base = { headers, ...(sessionId ? { sessionId } : {}) };
    const control = await ctx.rawWhoami(era, 'victim calls without the forged header (control)', base);
    if (!control.answer.ok) throw new McpNotApplicable(`the victim's own call failed without the forged header (${said(control.answer)})`);
    const shown = `${header === 'origin' ? 'Origin' : 'Host'}: ${value}`;
    const { res, answer } = await ctx.rawWhoami(era, `a page on ${value} calls with the victim's credentials`, { ...base, headers: { ...headers, [header]: value }, shown: [shown] });
    if (answer.ok) return fail(`a request with ${shown} was served (${said(answer)}).`);
    return pass(`${shown} was refused (${res.status}).`);
  });
}

const foreignOrigin: McpAttackDefinition = {
  id: 'foreign-origin',
  class: 'hardening',
  severity: 'high',
  title: 'A request from a foreign Origin is refused.',
  method: `Calls the identity tool with the victim's credentials and Origin: ${ATTACKER_ORIGIN} (what a browser sends for a page on another site).`,
  standard: standard(['14.5.3'], ['3.5.2'], [MCP_TRANSPORT]),
  run: (ctx) => headerAttack(ctx, 'origin', ATTACKER_ORIGIN),
};

const rebindingHost: McpAttackDefinition = {
  id: 'rebinding-host',
  class: 'hardening',
  severity: 'high',
  title: 'A request for a foreign Host (DNS rebinding) is refused.',
  method: `Calls the identity tool with the victim's credentials and Host: ${REBINDING_HOST} (what a browser sends after a rebinding attack points that name at the server).`,
  standard: standard(['14.5.3'], ['3.5.2'], [MCP_TRANSPORT]),
  run: (ctx) => headerAttack(ctx, 'host', REBINDING_HOST),
};

const sessionLimit: McpAttackDefinition = {
  id: 'session-limit',
  class: 'hardening',
  severity: 'medium',
  title: 'The most sessions per user is enforced.',
  method: 'The victim opens one session more than the limit, then calls the identity tool on every one: at most the limit may still serve.',
  standard: standard([], ['7.1.2'], [MCP_SESSIONS]),
  async run(ctx) {
    ctx.requireSessions();
    const limit = ctx.options.maxSessionsPerUser;
    if (limit === undefined) throw new McpNotApplicable('the server\'s limit was not named (maxSessionsPerUser / --max-sessions)');
    const sessions: Array<{ sessionId: string; headers: Record<string, string> }> = [];
    for (let i = 0; i <= limit; i++) {
      try {
        sessions.push(await ctx.rawSession('victim', `victim opens session ${i + 1}`));
      } catch (err) {
        ctx.wire.note(`session ${i + 1} was refused: ${(err as Error).message}`);
      }
    }
    await requireDeadIdsRefused(ctx, sessions[0]?.headers ?? {});
    let serving = 0;
    for (const [i, s] of sessions.entries()) {
      const { answer } = await ctx.rawWhoami('2025', `victim calls on session ${i + 1}`, s);
      if (ctx.isVictim('2025', answer)) serving++;
    }
    for (const [i, s] of sessions.entries()) {
      await ctx.wire.send({ method: 'DELETE', era: '2025', step: `victim ends session ${i + 1}`, headers: { ...s.headers, 'mcp-session-id': s.sessionId } });
    }
    if (serving > limit) return fail(`${serving} sessions of one user serve at once; the limit is ${limit}.`);
    return pass(`of ${limit + 1} sessions opened, ${serving} serve (limit ${limit}).`);
  },
};

/**
 * A server that serves any session id (see unknown-session-refused) makes a dead session look
 * alive: the attacks that count live sessions cannot judge it.
 */
async function requireDeadIdsRefused(ctx: McpAttackContext, headers: Record<string, string>): Promise<void> {
  const forged = randomUUID();
  const { answer } = await ctx.rawWhoami('2025', 'calls under a forged session id (control)', { sessionId: forged, headers });
  if (answer.ok) throw new McpNotApplicable('the server serves forged session ids (see unknown-session-refused), so a dead session cannot be told from a live one');
}

const revocationCutsStreams: McpAttackDefinition = {
  id: 'revocation-cuts-streams',
  class: 'fixation',
  severity: 'high',
  title: 'Deleting a session ends its open streams at once and the id is dead.',
  method: 'The victim opens a session and its GET event stream, then deletes the session: the stream must close within the grace and the id must answer 404.',
  standard: standard(['3.3.1'], ['7.4.1'], ['Manual Session Expiration', MCP_SESSIONS]),
  async run(ctx) {
    ctx.requireSessions();
    const { sessionId, headers } = await ctx.rawSession('victim', 'victim opens a session');
    const stream = await ctx.wire.openStream('victim opens the GET event stream', { ...headers, 'mcp-session-id': sessionId });
    if (stream.status !== 200) {
      stream.close();
      throw new McpNotApplicable(`the server offers no GET event stream (${stream.status})`);
    }
    try {
      const deleted = await ctx.wire.send({ method: 'DELETE', era: '2025', step: 'victim deletes the session', headers: { ...headers, 'mcp-session-id': sessionId } });
      if (deleted.status < 200 || deleted.status >= 300) throw new McpNotApplicable(`the server does not let a client delete its session (DELETE answered ${deleted.status})`);
      const grace = ctx.options.revocationGraceMs;
      const closedIn = await Promise.race([stream.closed, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), grace).unref())]);
      const { res, answer } = await ctx.rawWhoami('2025', 'victim calls on the deleted session', { sessionId, headers });
      const findings: string[] = [];
      if (closedIn === undefined) findings.push(`the event stream was still open ${grace} ms after the session was deleted`);
      let adopts = false;
      try {
        await requireDeadIdsRefused(ctx, headers);
      } catch (err) {
        if (!(err instanceof McpNotApplicable)) throw err;
        adopts = true;
        ctx.wire.note(err.message);
      }
      if (answer.ok && !adopts) findings.push(`the deleted session still serves (${said(answer)})`);
      if (findings.length > 0) return fail(`${findings.join('; ')}.`);
      return pass(`the stream closed ${closedIn} ms after the open and the deleted id answers ${res.status}.`);
    } finally {
      stream.close();
    }
  },
};

const batchRateLimit: McpAttackDefinition = {
  id: 'batch-rate-limit',
  class: 'hardening',
  severity: 'medium',
  title: 'A JSON-RPC batch cannot multiply the rate limit.',
  method: 'Sends batches of identity-tool calls (one HTTP request each, claiming the 2025-03-26 revision that had batches) until refused, and counts the calls that ran.',
  standard: standard(['11.1.4'], ['2.4.1'], [MCP_SESSIONS]),
  async run(ctx) {
    const era: McpEra = ctx.facts.legacy !== 'unsupported' ? '2025' : '2026-07-28';
    const limit = ctx.options.rateLimit;
    // A quarter of the limit: a server that charges per message still runs a few batches, one that counts requests runs many.
    const size = Math.max(1, Math.min(Math.floor((limit ?? 100) / 4), 100));
    const session = era === '2025' && ctx.facts.legacy === 'sessionful' ? await ctx.rawSession('attacker', 'attacker opens a session') : undefined;
    const headers = session?.headers ?? bearerHeaders(ctx, 'attacker');
    const message = (i: number): JsonRpcMessage =>
      era === '2025' ? { ...legacyRequest('tools/call', { name: ctx.identityTool, arguments: {} }), id: `batch-${i}` } : { ...modernRequest('tools/call', { name: ctx.identityTool, arguments: {} }), id: `batch-${i}` };
    const budget = (limit ?? size) * 2 + size;
    let ran = 0;
    let requests = 0;
    let refusedAt: number | undefined;
    while (ran < budget) {
      const batch = Array.from({ length: size }, (_, i) => message(requests * size + i));
      const res =
        era === '2025'
          ? await ctx.legacyPost(`attacker sends batch ${requests + 1}`, batch, { headers, protocolVersion: BATCH_PROTOCOL_VERSION, ...(session ? { sessionId: session.sessionId } : {}) })
          : await ctx.modernPost(`attacker sends batch ${requests + 1}`, batch, { headers });
      const results = res.messages.filter((m) => m.result !== undefined && m.result.isError !== true).length;
      if (res.status >= 400 || results === 0) {
        refusedAt = res.status;
        if (requests === 0 && res.status !== 429) return pass(`the server refuses JSON-RPC batches (${res.status}).`);
        break;
      }
      ran += results;
      requests++;
    }
    if (requests === 0) throw new McpNotApplicable(`the first batch was refused with ${refusedAt}: the rate limit was already spent by earlier attacks`);
    const account = `${ran} calls ran in ${requests} HTTP requests${refusedAt !== undefined ? `, then ${refusedAt}` : ''}`;
    if (limit === undefined) throw new McpNotApplicable(`batches are accepted (${account}); name the server's limit (rateLimit / --rate-limit) to judge them`);
    if (ran > limit) return fail(`${account}: batches multiplied the limit of ${limit}.`);
    return pass(`${account}: within the limit of ${limit}.`);
  },
};

// The session limit, revocation and the rate limit come last: they spend the server's limits.
export const MCP_CATALOGUE: readonly McpAttackDefinition[] = [
  distinctPrincipals,
  noSessionHandout,
  unknownSessionRefused,
  stolenSessionId,
  plantedSessionId,
  tokenTampering,
  stateCrossPrincipal,
  stateTampering,
  foreignOrigin,
  rebindingHost,
  sessionIdEntropy,
  sessionLimit,
  revocationCutsStreams,
  batchRateLimit,
];
