import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { withFileLock } from '../../src/mcp/file-lock.js';
import { openCredentialVault } from '../../src/mcp/vault.js';

/** Runs test/support/vault-writer.ts in a child process; resolves with its exit code and output. */
function writer(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/vault-writer.ts'], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('credential vault, FILE_ENCRYPTED shared by several processes', () => {
  it('keeps all 80 credentials that two processes store at the same time in one file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fg-mcp-vault-procs-'));
    const path = join(dir, 'credentials.enc');
    const encryptionKey = randomBytes(32).toString('base64');
    const base = { VAULT_PATH: path, ENCRYPTION_KEY: encryptionKey, COUNT: '40' };
    const results = await Promise.all([writer({ ...base, PREFIX: 'a' }), writer({ ...base, PREFIX: 'b' })]);
    for (const result of results) assert.equal(result.code, 0, result.stderr);

    const vault = await openCredentialVault({ mode: 'FILE_ENCRYPTED', encryptionKey, path });
    const missing: string[] = [];
    for (const prefix of ['a', 'b']) {
      for (let n = 0; n < 40; n++) {
        const found = await vault.get('fleet-user', `${prefix}-${n}@example.com`);
        if (found?.access_token !== `${prefix}-token-${n}`) missing.push(`${prefix}-${n}`);
      }
    }
    assert.deepEqual(missing, [], `${80 - missing.length} of 80 credentials survived`);
    assert.deepEqual(readdirSync(dir), ['credentials.enc'], 'no lock or temp file is left behind');
  });
});

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid as number;
}

describe('withFileLock', () => {
  const lockOf = (path: string) => `${path}.lock`;
  const fresh = () => join(mkdtempSync(join(tmpdir(), 'fg-file-lock-')), 'vault.enc');

  it('recovers at once a lock whose holder on this host has exited, and removes its own lock after', async () => {
    const path = fresh();
    writeFileSync(lockOf(path), JSON.stringify({ pid: await deadPid(), host: hostname(), token: 'crashed' }));
    assert.equal(await withFileLock(path, async () => existsSync(lockOf(path)), { timeoutMs: 5_000 }), true, 'held while the critical section runs');
    assert.equal(existsSync(lockOf(path)), false);
  });

  it("breaks another host's lock once it is older than staleMs, and waits while it is fresh", async () => {
    const path = fresh();
    writeFileSync(lockOf(path), JSON.stringify({ pid: 1, host: 'other-host.example', token: 'remote' }));
    await assert.rejects(
      withFileLock(path, async () => 'ran', { staleMs: 60_000, timeoutMs: 0 }),
      new Error(`withFileLock: ${lockOf(path)} has been held by another process for over 0 ms; if no process uses the file, remove the lock file`),
    );
    const old = new Date(Date.now() - 120_000);
    utimesSync(lockOf(path), old, old);
    assert.equal(await withFileLock(path, async () => 'ran', { staleMs: 60_000, timeoutMs: 5_000 }), 'ran');
  });

  it('waits for a live holder of this host while its lock is fresh', async () => {
    const path = fresh();
    writeFileSync(lockOf(path), JSON.stringify({ pid: process.pid, host: hostname(), token: 'live' }));
    await assert.rejects(withFileLock(path, async () => 'ran', { timeoutMs: 0 }), /has been held by another process/);
    assert.equal(existsSync(lockOf(path)), true, 'the holder keeps its lock');
  });

  it('runs the critical sections of concurrent callers one at a time', async () => {
    const path = fresh();
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 8 }, () =>
        withFileLock(path, async () => {
          inside += 1;
          most = Math.max(most, inside);
          await new Promise((resolve) => setImmediate(resolve));
          inside -= 1;
        }),
      ),
    );
    assert.equal(most, 1);
  });
});
