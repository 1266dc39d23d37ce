import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type Auditor, memorySink } from '../../src/audit/index.js';
import { createMcpSessionGuard, loadMcpConfigFromEnv, mcpGuardOptionsFromConfig, openCredentialVault } from '../../src/mcp/index.js';
import { ALICE, credentialServerFactory } from './helpers.js';

function tempPath(): string {
  return join(mkdtempSync(join(tmpdir(), 'fg-mcp-vault-')), 'nested', 'credentials.enc');
}

const key = () => randomBytes(32).toString('base64');

describe('credential vault', () => {
  it('round-trips a credential through FILE_ENCRYPTED and reads it back after a restart', async () => {
    const path = tempPath();
    const encryptionKey = key();
    const vault = await openCredentialVault({ mode: 'FILE_ENCRYPTED', encryptionKey, path });
    await vault.set('alice', 'Alice@Example.com', ALICE.credential);
    assert.deepEqual(await vault.get('alice', 'alice@example.com'), ALICE.credential);
    const restarted = await openCredentialVault({ mode: 'FILE_ENCRYPTED', encryptionKey, path });
    assert.deepEqual(await restarted.get('alice', ALICE.email), ALICE.credential);
    assert.equal(await restarted.delete('alice', ALICE.email), true);
    assert.equal(await restarted.get('alice', ALICE.email), undefined);
  });

  it('writes nothing readable without the key, with mode 0600, and leaves no temp files', async () => {
    const path = tempPath();
    const vault = await openCredentialVault({ mode: 'FILE_ENCRYPTED', encryptionKey: key(), path });
    await Promise.all([vault.set('alice', ALICE.email, ALICE.credential), vault.set('alice', 'bob@example.com', { access_token: 'BOB-PLAIN' })]);
    const raw = readFileSync(path, 'utf8');
    for (const plain of [ALICE.credential.access_token, ALICE.credential.refresh_token, ALICE.email, 'BOB-PLAIN', 'access_token']) {
      assert.ok(!raw.includes(plain), `the file must not contain ${plain}`);
    }
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(join(path, '..')), ['credentials.enc']);
    assert.deepEqual(await vault.get('alice', 'bob@example.com'), { access_token: 'BOB-PLAIN' }, 'concurrent writes do not lose each other');
  });

  it('refuses to start with a different ENCRYPTION_KEY and leaves the file untouched', async () => {
    const path = tempPath();
    await (await openCredentialVault({ mode: 'FILE_ENCRYPTED', encryptionKey: key(), path })).set('alice', ALICE.email, ALICE.credential);
    const before = readFileSync(path, 'utf8');
    await assert.rejects(openCredentialVault({ mode: 'FILE_ENCRYPTED', encryptionKey: key(), path }), {
      message: `openCredentialVault: ENCRYPTION_KEY does not match the key that encrypted ${path}; add the old key after the new one (comma-separated) to rotate`,
    });
    assert.equal(readFileSync(path, 'utf8'), before);
  });

  it('rotates keys: the first encrypts, the older ones still decrypt', async () => {
    const path = tempPath();
    const [oldKey, newKey] = [key(), key()];
    await (await openCredentialVault({ mode: 'FILE_ENCRYPTED', encryptionKey: oldKey, path })).set('alice', ALICE.email, ALICE.credential);
    const rotating = await openCredentialVault({ mode: 'FILE_ENCRYPTED', encryptionKey: [newKey, oldKey], path });
    assert.deepEqual(await rotating.get('alice', ALICE.email), ALICE.credential);
    await rotating.set('alice', 'bob@example.com', { token: 'b' });
    const rotated = await openCredentialVault({ mode: 'FILE_ENCRYPTED', encryptionKey: newKey, path });
    assert.deepEqual(await rotated.get('alice', ALICE.email), ALICE.credential);
  });

  it('refuses a tampered file and a plaintext file instead of overwriting them', async () => {
    const path = tempPath();
    const encryptionKey = key();
    await (await openCredentialVault({ mode: 'FILE_ENCRYPTED', encryptionKey, path })).set('alice', ALICE.email, ALICE.credential);
    const envelope = JSON.parse(readFileSync(path, 'utf8'));
    const data = Buffer.from(envelope.data, 'base64');
    data[0] = (data[0] as number) ^ 1;
    writeFileSync(path, JSON.stringify({ ...envelope, data: data.toString('base64') }));
    await assert.rejects(openCredentialVault({ mode: 'FILE_ENCRYPTED', encryptionKey, path }), {
      message: `openCredentialVault: ${path} failed authentication with ENCRYPTION_KEY (tampered or corrupt); refusing to use it`,
    });
    writeFileSync(path, JSON.stringify({ [ALICE.email]: ALICE.credential }));
    await assert.rejects(openCredentialVault({ mode: 'MEMORY_WITH_BACKUP', encryptionKey, path }), /is not an encrypted credential vault; refusing to read or overwrite it/);
  });

  it('fails at startup on a missing or malformed key, naming ENCRYPTION_KEY, never falling back to plaintext', async () => {
    await assert.rejects(openCredentialVault({ mode: 'FILE_ENCRYPTED', path: tempPath() }), {
      message: /^openCredentialVault: ENCRYPTION_KEY \(`encryptionKey`, required for CREDENTIAL_STORAGE_MODE=FILE_ENCRYPTED\) is not set; generate a key with: /,
    });
    await assert.rejects(openCredentialVault({ mode: 'MEMORY_WITH_BACKUP', encryptionKey: 'c2hvcnQ=', path: tempPath() }), {
      message: /ENCRYPTION_KEY \(`encryptionKey`, required for CREDENTIAL_STORAGE_MODE=MEMORY_WITH_BACKUP\) must decode to exactly 32 bytes; got 5/,
    });
    await assert.rejects(openCredentialVault({ mode: 'PLAINTEXT' as never }), /must be one of FILE_ENCRYPTED, MEMORY_ONLY, MEMORY_WITH_BACKUP; got "PLAINTEXT"/);
  });

  it('restores MEMORY_WITH_BACKUP from the encrypted file at start', async () => {
    const path = tempPath();
    const encryptionKey = key();
    const first = await openCredentialVault({ mode: 'MEMORY_WITH_BACKUP', encryptionKey, path });
    await first.set('alice', ALICE.email, ALICE.credential);
    assert.ok(!readFileSync(path, 'utf8').includes(ALICE.credential.access_token));
    const second = await openCredentialVault({ mode: 'MEMORY_WITH_BACKUP', encryptionKey, path });
    assert.deepEqual(await second.get('alice', ALICE.email), ALICE.credential);
  });

  it('keeps MEMORY_ONLY credentials in memory and writes no file', async () => {
    const path = tempPath();
    const vault = await openCredentialVault({ mode: 'MEMORY_ONLY', path });
    await vault.set('alice', ALICE.email, ALICE.credential);
    assert.deepEqual(await vault.get('alice', ALICE.email), ALICE.credential);
    assert.throws(() => statSync(path), /ENOENT/);
  });
});

describe('mcpGuardOptionsFromConfig', () => {
  it('opens the configured vault, so credentials stored before a restart are there after it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fg-mcp-config-'));
    const env = {
      SESSION_SECRET: key(),
      ENCRYPTION_KEY: key(),
      CREDENTIAL_STORAGE_PATH: join(dir, 'credentials.enc'),
      AUDIT_LOG_PATH: join(dir, 'audit.jsonl'),
    };
    const sink = memorySink();
    const first = createMcpSessionGuard({ ...(await mcpGuardOptionsFromConfig(loadMcpConfigFromEnv(env), { auditSinks: [sink] })), createServer: credentialServerFactory(), sweepInterval: false });
    assert.equal(first.vault.mode, 'FILE_ENCRYPTED');
    await first.vault.set('alice', ALICE.email, ALICE.credential);
    first.auditor.emit('credential_stored', { principal: 'alice' });
    await first.close();
    assert.match(readFileSync(env.AUDIT_LOG_PATH, 'utf8'), /"type":"credential_stored"/);

    const second = createMcpSessionGuard({ ...(await mcpGuardOptionsFromConfig(loadMcpConfigFromEnv(env))), createServer: credentialServerFactory(), sweepInterval: false });
    assert.deepEqual(await second.vault.get('alice', ALICE.email), ALICE.credential);
    await second.close();

    await assert.rejects(mcpGuardOptionsFromConfig(loadMcpConfigFromEnv({ ...env, ENCRYPTION_KEY: key() })), /ENCRYPTION_KEY does not match the key that encrypted/);
    assert.ok(sink.events.length > 0);
  });

  it('writes no audit file when ENABLE_AUDIT_LOGGING=false', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fg-mcp-config-'));
    const options = await mcpGuardOptionsFromConfig(
      loadMcpConfigFromEnv({ SESSION_SECRET: key(), CREDENTIAL_STORAGE_MODE: 'MEMORY_ONLY', ENABLE_AUDIT_LOGGING: 'false', AUDIT_LOG_PATH: join(dir, 'audit.jsonl') }),
    );
    (options.audit as Auditor).emit('credential_stored', {});
    assert.deepEqual(readdirSync(dir), []);
  });
});
