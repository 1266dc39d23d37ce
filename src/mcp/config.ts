import { z } from 'zod';
import type { SessionLimit } from '../store/contracts.js';
import { DEFAULT_FINGERPRINT_INPUTS, DEFAULT_FINGERPRINT_POLICY, FINGERPRINT_INPUTS, type FingerprintInput, type FingerprintPolicy } from './fingerprint.js';
import { decodeKeyList, generateKey, KEY_GENERATION_COMMAND } from './keys.js';
import { CREDENTIAL_STORAGE_MODES, DEFAULT_CREDENTIAL_STORAGE_MODE, DEFAULT_CREDENTIAL_STORAGE_PATH, type CredentialStorageMode } from './vault.js';

export const DEFAULT_SESSION_TIMEOUT_MINUTES = 30;
export const DEFAULT_FORCE_REAUTHENTICATION_HOURS = 4;
export const DEFAULT_MAX_SESSIONS_PER_USER = 5;
export const DEFAULT_AUDIT_LOG_PATH = 'logs/mcp-audit.jsonl';
export const DEFAULT_RATE_LIMIT_PER_IP = 300;
export const DEFAULT_RATE_LIMIT_PER_PRINCIPAL = 300;
export const DEFAULT_RATE_LIMIT_WINDOW_SECONDS = 60;

/** What happens at `MAX_SESSIONS_PER_USER`: the core's per-user limit policy. */
export type SessionLimitPolicy = SessionLimit['onLimit'];
export const DEFAULT_SESSION_LIMIT_POLICY: SessionLimitPolicy = 'evictOldest';

/** The MCP adapter's configuration, as read from the environment. */
export interface McpConfig {
  /** HMAC keys for session tokens and audit hashes: the first signs, all verify. */
  sessionSecrets: Buffer[];
  /** AES-256 keys for the vault (first encrypts, all decrypt); `undefined` for `MEMORY_ONLY` without a key. */
  encryptionKeys: Buffer[] | undefined;
  credentialStorageMode: CredentialStorageMode;
  credentialStoragePath: string;
  sessionTimeoutMinutes: number;
  forceReauthenticationHours: number;
  maxSessionsPerUser: number;
  sessionLimitPolicy: SessionLimitPolicy;
  enableAuditLogging: boolean;
  auditLogPath: string;
  allowedOrigins: string[];
  /** Hostnames the Host header may name (ALLOWED_HOSTS); the default is the localhost names. */
  allowedHosts: string[] | undefined;
  fingerprintPolicy: FingerprintPolicy;
  fingerprintInputs: FingerprintInput[];
  rateLimitPerIp: number;
  rateLimitPerPrincipal: number;
  rateLimitWindowSeconds: number;
  /** `NODE_ENV === 'production'`. */
  production: boolean;
  /** Keys that were generated because none were configured (development only). */
  generatedKeys: ('SESSION_SECRET' | 'ENCRYPTION_KEY')[];
}

export interface LoadMcpConfigOptions {
  /**
   * Outside production, generate throw-away keys for a missing SESSION_SECRET / ENCRYPTION_KEY
   * (with a loud warning) instead of failing. Ignored in production. The default value is `false`.
   */
  developmentKeys?: boolean;
  /** Where the development-key warning goes. The default value is `console.warn`. */
  warn?: (message: string) => void;
}

/**
 * Startup failure: every problem in the environment, each naming its variable.
 *
 * @example
 * try { loadMcpConfigFromEnv(process.env); } catch (err) { if (err instanceof McpConfigError) { console.error(err.message); process.exit(1); } throw err; }
 */
export class McpConfigError extends Error {
  override readonly name: string;
  readonly issues: { variable: string; message: string }[];

  constructor(issues: { variable: string; message: string }[]) {
    super(
      issues.length === 1
        ? `fixation-guard/mcp: ${(issues[0] as { message: string }).message}`
        : `fixation-guard/mcp: invalid configuration:\n${issues.map((issue) => `  - ${issue.message}`).join('\n')}`,
    );
    this.name = new.target.name;
    this.issues = issues;
  }
}

const TRUE_VALUES = ['true', '1', 'yes', 'on'];
const FALSE_VALUES = ['false', '0', 'no', 'off'];

function optionalText() {
  return z.string().trim().optional().transform((value) => (value === '' ? undefined : value));
}

function wholeNumber(variable: string, unit: string, fallback: number, max: number) {
  return optionalText().transform(function parseWholeNumber(value, ctx) {
    if (value === undefined) return fallback;
    const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
    if (!(n >= 1 && n <= max)) {
      ctx.addIssue({ code: 'custom', message: `${variable} must be a whole number of ${unit} from 1 to ${max}; got ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    return n;
  });
}

function oneOf<T extends string>(variable: string, allowed: readonly T[], fallback: T) {
  return optionalText().transform(function parseChoice(value, ctx) {
    if (value === undefined) return fallback;
    const found = allowed.find((candidate) => candidate.toLowerCase() === value.toLowerCase());
    if (!found) {
      ctx.addIssue({ code: 'custom', message: `${variable} must be one of ${allowed.join(', ')}; got ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    return found;
  });
}

function flag(variable: string, fallback: boolean) {
  return optionalText().transform(function parseFlag(value, ctx) {
    if (value === undefined) return fallback;
    if (TRUE_VALUES.includes(value.toLowerCase())) return true;
    if (FALSE_VALUES.includes(value.toLowerCase())) return false;
    ctx.addIssue({ code: 'custom', message: `${variable} must be true or false; got ${JSON.stringify(value)}` });
    return z.NEVER;
  });
}

function list(variable: string, check: (item: string) => string | undefined) {
  return optionalText().transform(function parseList(value, ctx) {
    const items = (value ?? '').split(',').map((item) => item.trim()).filter(Boolean);
    for (const item of items) {
      const problem = check(item);
      if (problem) ctx.addIssue({ code: 'custom', message: `${variable} ${problem}; got ${JSON.stringify(item)}` });
    }
    return items;
  });
}

function checkOrigin(item: string): string | undefined {
  try {
    const url = new URL(item);
    if (url.origin !== item.replace(/\/$/, '')) return 'must list origins like https://app.example.com (scheme, host and port only)';
  } catch {
    return 'must list origins like https://app.example.com (scheme, host and port only)';
  }
  return undefined;
}

function checkHostname(item: string): string | undefined {
  try {
    if (new URL(`http://${item}`).hostname === item.toLowerCase() && !item.includes('@')) return undefined;
  } catch {
    // falls through
  }
  return 'must list hostnames without scheme or port, like mcp.example.com';
}

const envSchema = z.object({
  NODE_ENV: optionalText(),
  SESSION_SECRET: optionalText(),
  ENCRYPTION_KEY: optionalText(),
  CREDENTIAL_STORAGE_MODE: oneOf('CREDENTIAL_STORAGE_MODE', CREDENTIAL_STORAGE_MODES, DEFAULT_CREDENTIAL_STORAGE_MODE),
  CREDENTIAL_STORAGE_PATH: optionalText().transform((value) => value ?? DEFAULT_CREDENTIAL_STORAGE_PATH),
  SESSION_TIMEOUT_MINUTES: wholeNumber('SESSION_TIMEOUT_MINUTES', 'minutes', DEFAULT_SESSION_TIMEOUT_MINUTES, 7 * 24 * 60),
  FORCE_REAUTHENTICATION_HOURS: wholeNumber('FORCE_REAUTHENTICATION_HOURS', 'hours', DEFAULT_FORCE_REAUTHENTICATION_HOURS, 30 * 24),
  MAX_SESSIONS_PER_USER: wholeNumber('MAX_SESSIONS_PER_USER', 'sessions', DEFAULT_MAX_SESSIONS_PER_USER, 1000),
  SESSION_LIMIT_POLICY: oneOf<SessionLimitPolicy>('SESSION_LIMIT_POLICY', ['evictOldest', 'rejectLogin'], DEFAULT_SESSION_LIMIT_POLICY),
  ENABLE_AUDIT_LOGGING: flag('ENABLE_AUDIT_LOGGING', true),
  AUDIT_LOG_PATH: optionalText().transform((value) => value ?? DEFAULT_AUDIT_LOG_PATH),
  ALLOWED_ORIGINS: list('ALLOWED_ORIGINS', checkOrigin).transform((items) => items.map((item) => new URL(item).origin)),
  ALLOWED_HOSTS: list('ALLOWED_HOSTS', checkHostname).transform((items) => (items.length === 0 ? undefined : items.map((item) => item.toLowerCase()))),
  FINGERPRINT_POLICY: oneOf<FingerprintPolicy>('FINGERPRINT_POLICY', ['reject', 'audit'], DEFAULT_FINGERPRINT_POLICY),
  FINGERPRINT_INPUTS: list('FINGERPRINT_INPUTS', (item) =>
    (FINGERPRINT_INPUTS as readonly string[]).includes(item) ? undefined : `must list some of ${FINGERPRINT_INPUTS.join(', ')}`,
  ).transform((items) => (items.length === 0 ? [...DEFAULT_FINGERPRINT_INPUTS] : [...new Set(items as FingerprintInput[])])),
  RATE_LIMIT_PER_IP: wholeNumber('RATE_LIMIT_PER_IP', 'requests', DEFAULT_RATE_LIMIT_PER_IP, 1_000_000),
  RATE_LIMIT_PER_PRINCIPAL: wholeNumber('RATE_LIMIT_PER_PRINCIPAL', 'requests', DEFAULT_RATE_LIMIT_PER_PRINCIPAL, 1_000_000),
  RATE_LIMIT_WINDOW_SECONDS: wholeNumber('RATE_LIMIT_WINDOW_SECONDS', 'seconds', DEFAULT_RATE_LIMIT_WINDOW_SECONDS, 86_400),
});

/**
 * Reads and validates the MCP adapter's environment at startup. Every problem is reported
 * at once in one `McpConfigError`, each message naming its variable; secrets are never echoed.
 *
 * @example
 * const config = loadMcpConfigFromEnv(process.env);
 * const guard = createMcpSessionGuard({ ...(await mcpGuardOptionsFromConfig(config)), createServer });
 */
export function loadMcpConfigFromEnv(env: Record<string, string | undefined> = process.env, options: LoadMcpConfigOptions = {}): McpConfig {
  const parsed = envSchema.safeParse(env);
  const issues: { variable: string; message: string }[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) issues.push({ variable: String(issue.path[0] ?? ''), message: issue.message });
  }
  const raw = parsed.success ? parsed.data : undefined;
  const production = (env.NODE_ENV ?? '').trim() === 'production';
  const developmentKeys = options.developmentKeys === true && !production;
  const generatedKeys: McpConfig['generatedKeys'] = [];

  function keys(variable: 'SESSION_SECRET' | 'ENCRYPTION_KEY', value: string | undefined, exactBytes?: number): Buffer[] | undefined {
    if (value === undefined && developmentKeys) {
      generatedKeys.push(variable);
      return decodeKeyList(generateKey(), variable);
    }
    try {
      return decodeKeyList(value, variable, exactBytes === undefined ? {} : { exactBytes });
    } catch (err) {
      const hint = value === undefined && production ? ' (NODE_ENV=production: keys are never generated)' : '';
      issues.push({ variable, message: `${(err as Error).message}${hint}` });
      return undefined;
    }
  }

  const sessionSecrets = keys('SESSION_SECRET', parsedOrRaw(raw?.SESSION_SECRET, env.SESSION_SECRET));
  const mode = raw?.CREDENTIAL_STORAGE_MODE ?? DEFAULT_CREDENTIAL_STORAGE_MODE;
  const encryptionValue = parsedOrRaw(raw?.ENCRYPTION_KEY, env.ENCRYPTION_KEY);
  // MEMORY_ONLY needs no key, but a key that is given must still be valid: a typo is never ignored.
  const encryptionKeys = mode === 'MEMORY_ONLY' && encryptionValue === undefined ? undefined : keys('ENCRYPTION_KEY', encryptionValue, 32);

  if (issues.length > 0 || !raw) throw new McpConfigError(issues);
  if (generatedKeys.length > 0) {
    (options.warn ?? console.warn)(
      `\n*** fixation-guard/mcp: DEVELOPMENT ONLY: generated a throw-away ${generatedKeys.join(' and ')}. ` +
        `Every session token and stored credential dies with this process. ` +
        `Set them for real use (${KEY_GENERATION_COMMAND}). ***\n`,
    );
  }
  return {
    sessionSecrets: sessionSecrets as Buffer[],
    encryptionKeys,
    credentialStorageMode: raw.CREDENTIAL_STORAGE_MODE,
    credentialStoragePath: raw.CREDENTIAL_STORAGE_PATH,
    sessionTimeoutMinutes: raw.SESSION_TIMEOUT_MINUTES,
    forceReauthenticationHours: raw.FORCE_REAUTHENTICATION_HOURS,
    maxSessionsPerUser: raw.MAX_SESSIONS_PER_USER,
    sessionLimitPolicy: raw.SESSION_LIMIT_POLICY,
    enableAuditLogging: raw.ENABLE_AUDIT_LOGGING,
    auditLogPath: raw.AUDIT_LOG_PATH,
    allowedOrigins: raw.ALLOWED_ORIGINS,
    allowedHosts: raw.ALLOWED_HOSTS,
    fingerprintPolicy: raw.FINGERPRINT_POLICY,
    fingerprintInputs: raw.FINGERPRINT_INPUTS,
    rateLimitPerIp: raw.RATE_LIMIT_PER_IP,
    rateLimitPerPrincipal: raw.RATE_LIMIT_PER_PRINCIPAL,
    rateLimitWindowSeconds: raw.RATE_LIMIT_WINDOW_SECONDS,
    production,
    generatedKeys,
  };
}

function parsedOrRaw(parsed: string | undefined, raw: string | undefined): string | undefined {
  if (parsed !== undefined) return parsed;
  const trimmed = raw?.trim();
  return trimmed === '' ? undefined : trimmed;
}
