/**
 * `fixation-guard/attack-suite`: attacks an Express app (in-process) or a running server with
 * the session fixation and hijacking catalogue, and a running MCP server with the session and
 * state isolation catalogue, and reports each attack with its evidence.
 *
 * @example
 * import { fixationAttackSuite } from 'fixation-guard/attack-suite';
 * fixationAttackSuite({ target: app, loginBody: { username: 'alice', password: 'alice-password' } });
 */
export { runFixationAttacks, fixationAttacks, type FixationAttackInfo } from './run.js';
export { fixationAttackSuite, type FixationAttackSuiteOptions } from './register.js';
export { formatReport, formatComparison, formatEvidence, formatEvidenceSummary, type FormatOptions } from './format.js';
export { FixationAttackSetupError } from './context.js';
export { toJUnit, toSarif, type SarifLog } from './ci.js';
export { RequestTimeoutError, TargetUnreachableError, type AttackTarget } from './http.js';
export { estimateIdEntropy, GUESSABLE_ID_BITS, MIN_ID_ENTROPY_BITS, type IdEntropyEstimate } from './entropy.js';
export { idHash } from './cookies.js';
// The MCP suite loads the MCP SDK clients only when it runs.
export { runMcpAttacks, mcpAttacks, type McpAttackInfo } from './mcp/run.js';
export { formatMcpReport, formatMcpEvidence } from './mcp/format.js';
export { McpAttackSetupError } from './mcp/context.js';
export type { McpAttackId, McpAttackOptions, McpAttackResult, McpEra, McpEvidenceRequest, McpIdentity, McpReport, McpTargetFacts } from './mcp/types.js';
export type {
  AttackClock,
  AttackOutcome,
  AttackResult,
  AttackStandard,
  CsrfOptions,
  EvidenceCookie,
  EvidenceRequest,
  FailOn,
  FindingClass,
  RunSummary,
  RunVerdict,
  Severity,
  FixationAttackId,
  FixationAttackOptions,
  FixationReport,
} from './types.js';
