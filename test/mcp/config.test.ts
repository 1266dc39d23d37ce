import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { KEY_GENERATION_COMMAND, loadMcpConfigFromEnv, McpConfigError } from '../../src/mcp/index.js';

const KEY = randomBytes(32).toString('base64');
const VALID = { SESSION_SECRET: KEY, ENCRYPTION_KEY: KEY };
const GENERATE = `generate a key with: ${KEY_GENERATION_COMMAND}`;

describe('loadMcpConfigFromEnv', () => {
  const cases: [string, Record<string, string>, string][] = [
    ['SESSION_SECRET missing', { ENCRYPTION_KEY: KEY }, `SESSION_SECRET is not set; ${GENERATE}`],
    ['SESSION_SECRET too short', { ...VALID, SESSION_SECRET: 'c2hvcnQ=' }, `SESSION_SECRET must decode to at least 32 bytes; got 5; ${GENERATE}`],
    ['SESSION_SECRET not base64', { ...VALID, SESSION_SECRET: 'correct horse battery staple' }, `SESSION_SECRET is not base64 (it must be the base64 text of random bytes); ${GENERATE}`],
    ['second rotation key bad', { ...VALID, SESSION_SECRET: `${KEY},c2hvcnQ=` }, `SESSION_SECRET (key 2 of 2) must decode to at least 32 bytes; got 5; ${GENERATE}`],
    ['ENCRYPTION_KEY missing for FILE_ENCRYPTED', { SESSION_SECRET: KEY }, `ENCRYPTION_KEY is not set; ${GENERATE}`],
    ['ENCRYPTION_KEY missing for MEMORY_WITH_BACKUP', { SESSION_SECRET: KEY, CREDENTIAL_STORAGE_MODE: 'MEMORY_WITH_BACKUP' }, `ENCRYPTION_KEY is not set; ${GENERATE}`],
    ['ENCRYPTION_KEY of 48 bytes', { ...VALID, ENCRYPTION_KEY: randomBytes(48).toString('base64') }, `ENCRYPTION_KEY must decode to exactly 32 bytes; got 48; ${GENERATE}`],
    ['ENCRYPTION_KEY malformed even in MEMORY_ONLY', { SESSION_SECRET: KEY, CREDENTIAL_STORAGE_MODE: 'MEMORY_ONLY', ENCRYPTION_KEY: 'not a key!' }, `ENCRYPTION_KEY is not base64 (it must be the base64 text of random bytes); ${GENERATE}`],
    ['plaintext storage mode', { ...VALID, CREDENTIAL_STORAGE_MODE: 'PLAINTEXT' }, 'CREDENTIAL_STORAGE_MODE must be one of FILE_ENCRYPTED, MEMORY_ONLY, MEMORY_WITH_BACKUP; got "PLAINTEXT"'],
    ['SESSION_TIMEOUT_MINUTES not a number', { ...VALID, SESSION_TIMEOUT_MINUTES: 'abc' }, 'SESSION_TIMEOUT_MINUTES must be a whole number of minutes from 1 to 10080; got "abc"'],
    ['SESSION_TIMEOUT_MINUTES fractional', { ...VALID, SESSION_TIMEOUT_MINUTES: '1.5' }, 'SESSION_TIMEOUT_MINUTES must be a whole number of minutes from 1 to 10080; got "1.5"'],
    ['FORCE_REAUTHENTICATION_HOURS negative', { ...VALID, FORCE_REAUTHENTICATION_HOURS: '-1' }, 'FORCE_REAUTHENTICATION_HOURS must be a whole number of hours from 1 to 720; got "-1"'],
    ['MAX_SESSIONS_PER_USER zero', { ...VALID, MAX_SESSIONS_PER_USER: '0' }, 'MAX_SESSIONS_PER_USER must be a whole number of sessions from 1 to 1000; got "0"'],
    ['SESSION_LIMIT_POLICY unknown', { ...VALID, SESSION_LIMIT_POLICY: 'ignore' }, 'SESSION_LIMIT_POLICY must be one of evictOldest, rejectLogin; got "ignore"'],
    ['ENABLE_AUDIT_LOGGING not a boolean', { ...VALID, ENABLE_AUDIT_LOGGING: 'maybe' }, 'ENABLE_AUDIT_LOGGING must be true or false; got "maybe"'],
    ['FINGERPRINT_POLICY unknown', { ...VALID, FINGERPRINT_POLICY: 'ignore' }, 'FINGERPRINT_POLICY must be one of reject, audit; got "ignore"'],
    ['FINGERPRINT_INPUTS unknown input', { ...VALID, FINGERPRINT_INPUTS: 'userAgent,cookie' }, 'FINGERPRINT_INPUTS must list some of userAgent, clientInfo, ip; got "cookie"'],
    ['ALLOWED_ORIGINS with a path', { ...VALID, ALLOWED_ORIGINS: 'https://app.example.com/mcp' }, 'ALLOWED_ORIGINS must list origins like https://app.example.com (scheme, host and port only); got "https://app.example.com/mcp"'],
    ['ALLOWED_HOSTS with a port', { ...VALID, ALLOWED_HOSTS: 'mcp.example.com:443' }, 'ALLOWED_HOSTS must list hostnames without scheme or port, like mcp.example.com; got "mcp.example.com:443"'],
    ['RATE_LIMIT_PER_IP zero', { ...VALID, RATE_LIMIT_PER_IP: '0' }, 'RATE_LIMIT_PER_IP must be a whole number of requests from 1 to 1000000; got "0"'],
    [
      'no keys in production even when development keys are allowed',
      { NODE_ENV: 'production', CREDENTIAL_STORAGE_MODE: 'MEMORY_ONLY' },
      `SESSION_SECRET is not set; ${GENERATE} (NODE_ENV=production: keys are never generated)`,
    ],
  ];
  for (const [name, env, message] of cases) {
    it(`fails at startup naming the variable: ${name}`, () => {
      // Development keys are asked for in production only, to prove production ignores the request.
      const options = env.NODE_ENV === 'production' ? { developmentKeys: true, warn: () => undefined } : {};
      assert.throws(() => loadMcpConfigFromEnv(env, options), { name: 'McpConfigError', message: `fixation-guard/mcp: ${message}` });
    });
  }

  it('reports every problem at once, one line per variable', () => {
    let error: McpConfigError | undefined;
    try {
      loadMcpConfigFromEnv({ SESSION_TIMEOUT_MINUTES: 'x' });
    } catch (err) {
      error = err as McpConfigError;
    }
    assert.ok(error instanceof McpConfigError);
    assert.deepEqual(error.issues.map((issue) => issue.variable), ['SESSION_TIMEOUT_MINUTES', 'SESSION_SECRET', 'ENCRYPTION_KEY']);
    assert.match(error.message, /^fixation-guard\/mcp: invalid configuration:\n {2}- SESSION_TIMEOUT_MINUTES/);
  });

  it('never echoes a secret in its messages', () => {
    const secret = 'S3cr3tButNotBase64!!!-------------------';
    assert.throws(() => loadMcpConfigFromEnv({ ...VALID, SESSION_SECRET: secret }), (err: Error) => !err.message.includes(secret));
  });

  it('applies the documented defaults', () => {
    const config = loadMcpConfigFromEnv(VALID);
    assert.equal(config.credentialStorageMode, 'FILE_ENCRYPTED');
    assert.equal(config.credentialStoragePath, '.fixation-guard/credentials.enc');
    assert.equal(config.sessionTimeoutMinutes, 30);
    assert.equal(config.forceReauthenticationHours, 4);
    assert.equal(config.maxSessionsPerUser, 5);
    assert.equal(config.sessionLimitPolicy, 'evictOldest');
    assert.equal(config.enableAuditLogging, true);
    assert.equal(config.auditLogPath, 'logs/mcp-audit.jsonl');
    assert.deepEqual(config.allowedOrigins, []);
    assert.equal(config.allowedHosts, undefined, 'the guard then allows the localhost names only');
    assert.equal(config.fingerprintPolicy, 'reject');
    assert.deepEqual(config.fingerprintInputs, ['userAgent', 'clientInfo']);
    assert.equal(config.rateLimitPerIp, 300);
    assert.equal(config.rateLimitPerPrincipal, 300);
    assert.equal(config.rateLimitWindowSeconds, 60);
    assert.equal(config.sessionSecrets.length, 1);
    assert.equal(config.encryptionKeys?.[0]?.length, 32);
  });

  it('reads every variable it documents', () => {
    const config = loadMcpConfigFromEnv({
      ...VALID,
      SESSION_SECRET: `${KEY},${randomBytes(32).toString('base64url')}`,
      CREDENTIAL_STORAGE_MODE: 'memory_with_backup',
      CREDENTIAL_STORAGE_PATH: '/var/lib/app/creds.enc',
      SESSION_TIMEOUT_MINUTES: '15',
      FORCE_REAUTHENTICATION_HOURS: '8',
      MAX_SESSIONS_PER_USER: '2',
      SESSION_LIMIT_POLICY: 'rejectLogin',
      ENABLE_AUDIT_LOGGING: 'false',
      AUDIT_LOG_PATH: '/var/log/app/audit.jsonl',
      ALLOWED_ORIGINS: 'https://a.example, http://localhost:5173',
      ALLOWED_HOSTS: 'MCP.example.com, localhost',
      FINGERPRINT_POLICY: 'audit',
      FINGERPRINT_INPUTS: 'userAgent,ip',
      RATE_LIMIT_PER_IP: '10',
      RATE_LIMIT_PER_PRINCIPAL: '20',
      RATE_LIMIT_WINDOW_SECONDS: '30',
    });
    assert.equal(config.sessionSecrets.length, 2);
    assert.equal(config.credentialStorageMode, 'MEMORY_WITH_BACKUP');
    assert.equal(config.credentialStoragePath, '/var/lib/app/creds.enc');
    assert.deepEqual(
      [config.sessionTimeoutMinutes, config.forceReauthenticationHours, config.maxSessionsPerUser, config.sessionLimitPolicy, config.enableAuditLogging, config.auditLogPath],
      [15, 8, 2, 'rejectLogin', false, '/var/log/app/audit.jsonl'],
    );
    assert.deepEqual(config.allowedOrigins, ['https://a.example', 'http://localhost:5173']);
    assert.deepEqual(config.allowedHosts, ['mcp.example.com', 'localhost']);
    assert.deepEqual([config.fingerprintPolicy, config.fingerprintInputs], ['audit', ['userAgent', 'ip']]);
    assert.deepEqual([config.rateLimitPerIp, config.rateLimitPerPrincipal, config.rateLimitWindowSeconds], [10, 20, 30]);
  });

  it('generates throw-away keys outside production only when asked, and says so loudly', () => {
    const warnings: string[] = [];
    const config = loadMcpConfigFromEnv({ CREDENTIAL_STORAGE_MODE: 'MEMORY_ONLY' }, { developmentKeys: true, warn: (m) => warnings.push(m) });
    assert.deepEqual(config.generatedKeys, ['SESSION_SECRET']);
    assert.equal(config.encryptionKeys, undefined);
    assert.match(warnings[0] ?? '', /DEVELOPMENT ONLY: generated a throw-away SESSION_SECRET/);
    assert.throws(() => loadMcpConfigFromEnv({ CREDENTIAL_STORAGE_MODE: 'MEMORY_ONLY' }), /SESSION_SECRET is not set/);
  });
});
