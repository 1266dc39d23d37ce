export { MemorySessionIndex } from './memory.js';
export type { SessionIndex, SessionIndexEntry, SessionLimit, AdmitResult } from '../store/contracts.js';
