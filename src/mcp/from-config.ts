import { Auditor, jsonlSink, type AuditSink } from '../audit/index.js';
import type { Clock } from '../clock/index.js';
import type { McpConfig } from './config.js';
import type { McpSessionGuardOptions } from './guard.js';
import { openCredentialVault } from './vault.js';

export interface McpGuardOptionsFromConfig {
  /** The default value is the system clock. */
  clock?: Clock;
  /** A connected node-redis client for shared rate-limit counters. The default value is `undefined`. */
  redis?: unknown;
  /** Extra audit sinks next to the JSONL file. The default value is `[]`. */
  auditSinks?: AuditSink[];
}

/**
 * Turns a validated environment into guard options: opens the vault (failing on a bad key
 * or an unreadable file), and writes the audit log as JSONL when ENABLE_AUDIT_LOGGING.
 *
 * @example
 * const config = loadMcpConfigFromEnv(process.env);
 * const guard = createMcpSessionGuard({ ...(await mcpGuardOptionsFromConfig(config)), createServer });
 */
export async function mcpGuardOptionsFromConfig(
  config: McpConfig,
  extras: McpGuardOptionsFromConfig = {},
): Promise<Omit<McpSessionGuardOptions, 'createServer'>> {
  const vault = await openCredentialVault({
    mode: config.credentialStorageMode,
    path: config.credentialStoragePath,
    ...(config.encryptionKeys ? { encryptionKey: config.encryptionKeys } : {}),
  });
  const sinks: AuditSink[] = [...(extras.auditSinks ?? [])];
  if (config.enableAuditLogging) sinks.push(jsonlSink(config.auditLogPath));
  const audit = new Auditor({ sinks, hashSecret: config.sessionSecrets[0] as Buffer, ...(extras.clock ? { clock: extras.clock } : {}) });
  const window = config.rateLimitWindowSeconds * 1000;
  return {
    sessionSecret: config.sessionSecrets,
    vault,
    audit,
    idleTimeout: config.sessionTimeoutMinutes * 60_000,
    absoluteTimeout: config.forceReauthenticationHours * 3_600_000,
    maxSessionsPerUser: config.maxSessionsPerUser,
    onSessionLimit: config.sessionLimitPolicy,
    fingerprint: { inputs: config.fingerprintInputs, policy: config.fingerprintPolicy },
    allowedOrigins: config.allowedOrigins,
    rateLimit: {
      perIp: { points: config.rateLimitPerIp, window },
      perPrincipal: { points: config.rateLimitPerPrincipal, window },
      ...(extras.redis !== undefined ? { redis: extras.redis } : {}),
    },
    ...(extras.clock ? { clock: extras.clock } : {}),
  };
}
