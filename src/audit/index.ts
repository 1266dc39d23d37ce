export { AUDIT_EVENTS, type AuditEvent, type AuditEventType, type AuditSeverity, type AuditDetail } from './events.js';
export { Auditor, callbackSink, memorySink, type AuditSink, type AuditFields, type AuditorOptions } from './auditor.js';
export { jsonlSink, type JsonlSinkOptions } from './jsonl.js';
export { verifyAuditChain, verifyAuditFile, type ChainReport, type ChainProblem, type ChainProblemKind } from './chain.js';
export { consoleSink, formatAuditLine, type ConsoleSinkOptions } from './console.js';
