/**
 * The one catalogue of audit events. Every event any part of fixation-guard emits is listed
 * here with its severity, so a SIEM rule can be written against this table.
 */
export const AUDIT_EVENTS = {
  // Session lifecycle (core guard)
  session_created: 'info',
  session_rotated: 'info',
  rotation_grace_used: 'info',
  login: 'info',
  login_rejected: 'warn',
  cross_site_login_rejected: 'warn',
  logout: 'info',
  logout_everywhere: 'info',
  elevated: 'info',
  session_expired: 'info',
  session_evicted: 'info',
  session_revoked: 'info',
  credentials_changed: 'info',
  // Attacks and anomalies (core guard)
  unknown_session_id: 'warn',
  rotated_session_id_presented: 'warn',
  url_session_id_rejected: 'warn',
  cookie_tossing: 'warn',
  session_cookie_tampered: 'warn',
  fixation_tripwire: 'error',
  resurrection_blocked: 'warn',
  // Infrastructure and configuration
  store_unavailable: 'error',
  store_recovered: 'info',
  /** A write that may have created a session failed without a known outcome: its id is being ended. */
  write_outcome_unknown: 'warn',
  /** Such an id was ended after the store came back. */
  write_outcome_settled: 'info',
  /** Such an id could not be ended (the retry queue was full): it lives until its TTL, its id never sent to anyone. */
  write_outcome_abandoned: 'error',
  insecure_configuration: 'warn',
  config_error: 'error',
  // MCP adapter
  mcp_session_created: 'info',
  mcp_session_revoked: 'info',
  mcp_session_expired: 'info',
  mcp_session_unknown: 'warn',
  mcp_session_limit: 'warn',
  session_token_issued: 'info',
  invalid_token_signature: 'warn',
  expired_token: 'warn',
  session_token_mismatch: 'warn',
  session_owner_mismatch: 'warn',
  connection_fingerprint_mismatch: 'warn',
  unauthorized_credential_access: 'error',
  credential_access_granted: 'info',
  credential_stored: 'info',
  credential_store_failed: 'error',
  rate_limit_exceeded: 'warn',
  origin_rejected: 'warn',
  host_rejected: 'warn',
  batch_rejected: 'warn',
  bearer_identity_rejected: 'warn',
  emergency_disable_session_reuse: 'warn',
  // MCP adapter, 2026-07-28 (stateless): bearer identity per request, sealed requestState, principal-scoped state
  mcp_bearer_rejected: 'warn',
  request_state_rejected: 'warn',
  state_handle_cross_principal: 'error',
} as const;

export type AuditEventType = keyof typeof AUDIT_EVENTS;
export type AuditSeverity = (typeof AUDIT_EVENTS)[AuditEventType];

/** Values an event may carry in `detail`: never a raw id, token, key or credential. */
export type AuditDetail = Record<string, string | number | boolean | null | undefined>;

export interface AuditEvent {
  type: AuditEventType;
  severity: AuditSeverity;
  /** ISO-8601, from the guard's clock. */
  time: string;
  /** Short keyed hash of the session id the event is about. */
  session?: string;
  /** Short keyed hash of the id before a rotation. */
  previousSession?: string;
  principal?: string;
  ip?: string;
  reason?: string;
  detail?: AuditDetail;
}
