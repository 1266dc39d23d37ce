import { parseDuration } from '../../clock/index.js';
import type { FailOn } from '../types.js';
import { DEFAULT_FAIL_ON, FAIL_ON_VALUES } from '../verdict.js';
import type { McpAttackId, McpAttackOptions, McpIdentity } from './types.js';

export const DEFAULT_MCP_ENTROPY_SAMPLES = 32;
export const DEFAULT_REVOCATION_GRACE_MS = 2_000;
export const DEFAULT_MCP_REQUEST_TIMEOUT_MS = 10_000;
const MIN_ENTROPY_SAMPLES = 16;
const WHERE = 'runMcpAttacks';

export interface ResolvedMcpOptions {
  victim: McpIdentity;
  attacker: McpIdentity;
  identityTool: string | undefined;
  stateTool: { name: string; arguments: Record<string, unknown> } | undefined;
  maxSessionsPerUser: number | undefined;
  rateLimit: number | undefined;
  entropySamples: number;
  revocationGraceMs: number;
  requestTimeoutMs: number;
  failOn: FailOn;
  only: ReadonlySet<McpAttackId> | undefined;
  skip: ReadonlySet<McpAttackId>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function identity(value: unknown, role: string): McpIdentity {
  if (!isObject(value)) {
    throw new TypeError(`${WHERE}: \`${role}\` must be an identity such as { bearer: '…' } or { login: async ({ sessionId }) => headers }; got ${JSON.stringify(value)}`);
  }
  const { bearer, headers, login } = value as McpIdentity;
  if (bearer !== undefined && (typeof bearer !== 'string' || bearer === '')) throw new TypeError(`${WHERE}: \`${role}.bearer\` must be a non-empty string`);
  if (headers !== undefined && (!isObject(headers) || Object.values(headers).some((h) => typeof h !== 'string'))) {
    throw new TypeError(`${WHERE}: \`${role}.headers\` must be an object of header names to strings`);
  }
  if (login !== undefined && typeof login !== 'function') throw new TypeError(`${WHERE}: \`${role}.login\` must be a function; got ${typeof login}`);
  if (bearer === undefined && headers === undefined && login === undefined) {
    throw new Error(`${WHERE}: \`${role}\` names no credentials; give a bearer token, headers or a login hook`);
  }
  return value as McpIdentity;
}

function positive(value: unknown, option: string, min = 1): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new RangeError(`${WHERE}: \`${option}\` must be an integer of at least ${min}; got ${JSON.stringify(value)}`);
  }
  return value;
}

function idList(value: unknown, option: string, known: ReadonlySet<string>): Set<McpAttackId> | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw new TypeError(`${WHERE}: \`${option}\` must be an array of attack ids; got ${JSON.stringify(value)}`);
  for (const id of value) {
    if (!known.has(id)) throw new Error(`${WHERE}: \`${option}\` names an unknown attack ${JSON.stringify(id)}; known attacks: ${[...known].join(', ')}`);
  }
  return new Set(value as McpAttackId[]);
}

function failOn(value: unknown): FailOn {
  if (value === undefined) return DEFAULT_FAIL_ON;
  if (!FAIL_ON_VALUES.includes(value as FailOn)) throw new Error(`${WHERE}: \`failOn\` must be one of ${FAIL_ON_VALUES.join(', ')}; got ${JSON.stringify(value)}`);
  return value as FailOn;
}

/** Validates the options once, with messages that name the option and show the value. */
export function resolveMcpOptions(input: McpAttackOptions, known: ReadonlySet<string>): ResolvedMcpOptions {
  if (!isObject(input)) throw new TypeError(`${WHERE}: options must be an object; got ${JSON.stringify(input)}`);
  const victim = identity(input.victim, 'victim');
  const attacker = identity(input.attacker, 'attacker');
  if (victim.bearer !== undefined && victim.bearer === attacker.bearer) {
    throw new Error(`${WHERE}: \`victim\` and \`attacker\` carry the same bearer token; give two different users`);
  }
  if (input.identityTool !== undefined && (typeof input.identityTool !== 'string' || input.identityTool === '')) {
    throw new TypeError(`${WHERE}: \`identityTool\` must be a tool name; got ${JSON.stringify(input.identityTool)}`);
  }
  let stateTool: ResolvedMcpOptions['stateTool'];
  if (input.stateTool !== undefined) {
    if (!isObject(input.stateTool) || typeof input.stateTool.name !== 'string' || (input.stateTool.arguments !== undefined && !isObject(input.stateTool.arguments))) {
      throw new TypeError(`${WHERE}: \`stateTool\` must be { name, arguments? }; got ${JSON.stringify(input.stateTool)}`);
    }
    stateTool = { name: input.stateTool.name, arguments: input.stateTool.arguments ?? {} };
  }
  return {
    victim,
    attacker,
    identityTool: input.identityTool,
    stateTool,
    maxSessionsPerUser: positive(input.maxSessionsPerUser, 'maxSessionsPerUser'),
    rateLimit: positive(input.rateLimit, 'rateLimit'),
    entropySamples: positive(input.entropySamples, 'entropySamples', MIN_ENTROPY_SAMPLES) ?? DEFAULT_MCP_ENTROPY_SAMPLES,
    revocationGraceMs: input.revocationGrace === undefined ? DEFAULT_REVOCATION_GRACE_MS : parseDuration(input.revocationGrace, `${WHERE}: \`revocationGrace\``),
    requestTimeoutMs: input.requestTimeout === undefined ? DEFAULT_MCP_REQUEST_TIMEOUT_MS : parseDuration(input.requestTimeout, `${WHERE}: \`requestTimeout\``),
    failOn: failOn(input.failOn),
    only: idList(input.only, 'only', known),
    skip: idList(input.skip, 'skip', known) ?? new Set(),
  };
}
