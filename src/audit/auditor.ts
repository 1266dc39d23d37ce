import { systemClock, type Clock } from '../clock/index.js';
import { deriveKey, ephemeralKey, shortHash } from '../util/hash.js';
import { AUDIT_EVENTS, type AuditDetail, type AuditEvent, type AuditEventType } from './events.js';

/** Receives every audit event. A sink that throws is reported once and never breaks a request. */
export type AuditSink = (event: AuditEvent) => void;

export interface AuditFields {
  /** Raw session id: hashed before it leaves the auditor. */
  sessionId?: string | undefined;
  /** Raw previous session id: hashed before it leaves the auditor. */
  previousSessionId?: string | undefined;
  principal?: string | undefined;
  ip?: string | undefined;
  reason?: string | undefined;
  detail?: AuditDetail | undefined;
}

export interface AuditorOptions {
  sinks?: AuditSink[];
  /** Key material for id hashes; give every instance the same one to correlate across a fleet. */
  hashSecret?: string | Buffer;
  clock?: Clock;
}

/**
 * Emits typed audit events to sinks, hashing ids on the way out.
 *
 * @example
 * const auditor = new Auditor({ sinks: [jsonlSink('/var/log/app/audit.jsonl')], hashSecret });
 * auditor.emit('login', { sessionId: req.sessionID, principal: 'alice' });
 */
export class Auditor {
  readonly #sinks: AuditSink[];
  readonly #key: Buffer;
  readonly #clock: Clock;
  #sinkFailureReported = false;

  constructor(options: AuditorOptions = {}) {
    this.#sinks = [...(options.sinks ?? [])];
    this.#key = options.hashSecret ? deriveKey(options.hashSecret, 'audit-id-hash') : ephemeralKey();
    this.#clock = options.clock ?? systemClock;
  }

  /** The short keyed hash under which `id` appears in events. */
  hash(id: string): string {
    return shortHash(this.#key, id);
  }

  /** Whether any sink listens: a caller can skip gathering costly fields for an event nobody gets. */
  get listening(): boolean {
    return this.#sinks.length > 0;
  }

  addSink(sink: AuditSink): void {
    this.#sinks.push(sink);
  }

  /** Emits an event to every sink; with no sink, nothing is built (no hashing on the hot path). */
  emit(type: AuditEventType, fields: AuditFields = {}): AuditEvent | undefined {
    if (this.#sinks.length === 0) return undefined;
    const event: AuditEvent = {
      type,
      severity: AUDIT_EVENTS[type],
      time: new Date(this.#clock.now()).toISOString(),
    };
    if (fields.sessionId) event.session = this.hash(fields.sessionId);
    if (fields.previousSessionId) event.previousSession = this.hash(fields.previousSessionId);
    if (fields.principal !== undefined) event.principal = fields.principal;
    if (fields.ip !== undefined) event.ip = fields.ip;
    if (fields.reason !== undefined) event.reason = fields.reason;
    if (fields.detail !== undefined) event.detail = fields.detail;
    for (const sink of this.#sinks) {
      try {
        sink(event);
      } catch (err) {
        if (!this.#sinkFailureReported) {
          this.#sinkFailureReported = true;
          process.emitWarning(`fixation-guard: an audit sink threw (${(err as Error).message}); further sink errors are not reported`);
        }
      }
    }
    return event;
  }
}

/** A sink that hands each event to a callback. */
export function callbackSink(callback: (event: AuditEvent) => void): AuditSink {
  if (typeof callback !== 'function') {
    throw new TypeError(`callbackSink: \`callback\` must be a function; got ${typeof callback}`);
  }
  return function callbackAuditSink(event) {
    callback(event);
  };
}

/** A sink that keeps events in an array: handy in tests and the attack suite. */
export function memorySink(): AuditSink & { events: AuditEvent[]; of(type: AuditEventType): AuditEvent[] } {
  const events: AuditEvent[] = [];
  const sink = Object.assign(
    function memoryAuditSink(event: AuditEvent) {
      events.push(event);
    },
    { events, of: (type: AuditEventType) => events.filter((e) => e.type === type) },
  );
  return sink;
}
