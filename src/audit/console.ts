import type { AuditSink } from './auditor.js';
import type { AuditEvent, AuditSeverity } from './events.js';

export interface ConsoleSinkOptions {
  /** Events below this severity are not printed. The default value is `'info'` (every event). */
  minSeverity?: AuditSeverity;
  /** Where lines go. The default value is `console.error` (stderr, beside the app's own logs). */
  write?: (line: string) => void;
}

const RANK: Record<AuditSeverity, number> = { info: 0, warn: 1, error: 2 };

/** One readable line per event: `fixation-guard audit WARN unknown_session_id session=3f9a… ip=::1`. */
export function formatAuditLine(event: AuditEvent): string {
  const parts = [`fixation-guard audit ${event.severity.toUpperCase()} ${event.type}`];
  if (event.principal !== undefined) parts.push(`principal=${JSON.stringify(event.principal)}`);
  if (event.session !== undefined) parts.push(`session=${event.session}`);
  if (event.previousSession !== undefined) parts.push(`previous=${event.previousSession}`);
  if (event.ip !== undefined) parts.push(`ip=${event.ip}`);
  if (event.reason !== undefined) parts.push(`reason=${JSON.stringify(event.reason)}`);
  if (event.detail !== undefined) {
    for (const [key, value] of Object.entries(event.detail)) if (value !== undefined) parts.push(`${key}=${JSON.stringify(value)}`);
  }
  return parts.join(' ');
}

/**
 * A sink that prints each event as one readable line. Events carry only keyed hashes of
 * session ids (the auditor hashes them before any sink sees them), never an id or a token.
 * It is the default sink outside production and tests, so that an outage or a refused cookie
 * is never silent while an app is being built.
 *
 * @example
 * app.use(sessionGuard({ secret, audit: [consoleSink({ minSeverity: 'warn' }), jsonlSink('/var/log/app/audit.jsonl')] }));
 */
export function consoleSink(options: ConsoleSinkOptions = {}): AuditSink {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`consoleSink: options must be an object; got ${JSON.stringify(options)}`);
  }
  const min = options.minSeverity ?? 'info';
  if (!(min in RANK)) throw new Error(`consoleSink: \`minSeverity\` must be 'info', 'warn' or 'error'; got ${JSON.stringify(min)}`);
  const write = options.write ?? ((line: string) => console.error(line));
  const threshold = RANK[min];
  return function consoleAuditSink(event) {
    if (RANK[event.severity] >= threshold) write(formatAuditLine(event));
  };
}
