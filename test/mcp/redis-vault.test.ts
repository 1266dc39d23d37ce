import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createClient } from 'redis';
import { startRedisServer } from '../../scripts/redis-server.js';
import { openCredentialVault, type CredentialVault } from '../../src/mcp/index.js';
import { redisCredentialVault } from '../../src/redis/index.js';

type Redis = ReturnType<typeof createClient>;

/** 40 credentials from each of two writers, interleaved. */
async function writeEighty(one: CredentialVault, two: CredentialVault): Promise<number> {
  const writes: Promise<void>[] = [];
  for (let i = 0; i < 40; i++) {
    writes.push(one.set(`user-${i}`, `a${i}@example.com`, { token: `one-${i}` }));
    writes.push(two.set(`user-${i}`, `b${i}@example.com`, { token: `two-${i}` }));
  }
  await Promise.all(writes);
  let kept = 0;
  for (let i = 0; i < 40; i++) {
    if ((await one.get(`user-${i}`, `a${i}@example.com`))?.token === `one-${i}`) kept++;
    if ((await one.get(`user-${i}`, `b${i}@example.com`))?.token === `two-${i}`) kept++;
  }
  return kept;
}

describe('credential vault shared by several processes', () => {
  let ownServer: Awaited<ReturnType<typeof startRedisServer>> | undefined;
  const clients: Redis[] = [];
  const key = randomBytes(32).toString('base64');
  async function client(): Promise<Redis> {
    const c = createClient({ url: process.env.REDIS_URL ?? ownServer?.url });
    await c.connect();
    clients.push(c);
    return c;
  }
  before(async () => {
    ownServer = process.env.REDIS_URL ? undefined : await startRedisServer();
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.quit()));
    await ownServer?.stop();
  });

  it('loses credentials when two writers share one FILE_ENCRYPTED file without its lock (the attack)', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'fg-vault-')), 'credentials.enc');
    const one = await openCredentialVault({ mode: 'FILE_ENCRYPTED', encryptionKey: key, path, lock: false });
    const two = await openCredentialVault({ mode: 'FILE_ENCRYPTED', encryptionKey: key, path, lock: false });
    const kept = await writeEighty(one, two);
    assert.ok(kept < 80, `expected lost writes, kept ${kept} of 80`);
  });

  it('keeps all 80 with the lock file (the default)', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'fg-vault-')), 'credentials.enc');
    const one = await openCredentialVault({ mode: 'FILE_ENCRYPTED', encryptionKey: key, path });
    const two = await openCredentialVault({ mode: 'FILE_ENCRYPTED', encryptionKey: key, path });
    assert.equal(await writeEighty(one, two), 80);
  });

  it('keeps all 80 credentials written by two writers with their own Redis connections', async () => {
    const prefix = `fg:{vault-${randomBytes(4).toString('hex')}}:`;
    const one = redisCredentialVault({ client: await client(), encryptionKey: key, prefix });
    const two = redisCredentialVault({ client: await client(), encryptionKey: key, prefix });
    assert.equal(await writeEighty(one, two), 80);
    assert.equal(await two.delete('user-1', 'a1@example.com'), true);
    assert.equal(await one.get('user-1', 'a1@example.com'), undefined);
  });

  it('stores nothing readable, and refuses an envelope moved to another principal’s entry', async () => {
    const redis = await client();
    const prefix = `fg:{vault-${randomBytes(4).toString('hex')}}:`;
    const vault = redisCredentialVault({ client: redis, encryptionKey: key, prefix });
    await vault.set('alice', 'alice@example.com', { access_token: 'ALICE-SECRET' });
    const all = await redis.hGetAll(`${prefix}mcp:vault`);
    assert.ok(!JSON.stringify(all).includes('ALICE-SECRET'));
    const [field, envelope] = Object.entries(all)[0] as [string, string];
    assert.equal(field, '5:alice|alice@example.com');
    await redis.hSet(`${prefix}mcp:vault`, '7:mallory|alice@example.com', envelope);
    await assert.rejects(vault.get('mallory', 'alice@example.com'), /failed authentication with ENCRYPTION_KEY/);
    assert.throws(() => redisCredentialVault({ client: redis, encryptionKey: 'c2hvcnQ=' }), /ENCRYPTION_KEY .* must decode to exactly 32 bytes/);
  });
});
