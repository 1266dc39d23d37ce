/**
 * `fixation-guard/attack-suite`: attacks an Express app (in-process) or a running server with
 * the session fixation and hijacking catalogue, and reports with evidence.
 */
export { runFixationAttacks, fixationAttacks, type FixationAttackInfo } from './run.js';
export { FixationAttackSetupError } from './context.js';
export { TargetUnreachableError, type AttackTarget } from './http.js';
export { estimateIdEntropy, MIN_ID_ENTROPY_BITS, type IdEntropyEstimate } from './entropy.js';
export { idHash } from './cookies.js';
export type {
  AttackClock,
  AttackOutcome,
  AttackResult,
  AttackStandard,
  EvidenceCookie,
  EvidenceRequest,
  FixationAttackId,
  FixationAttackOptions,
  FixationReport,
} from './types.js';
