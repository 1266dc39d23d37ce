import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { memoryCredentialVault, normalizeEmail, type CredentialVault, type StoredCredential } from '../../src/mcp/index.js';
import { ALICE, connectClient, login, toolText, withGuardedServer } from './helpers.js';

/** The old keying, as an app-supplied vault: one entry per email, whoever asks. */
function emailKeyedVault(): CredentialVault {
  const entries = new Map<string, StoredCredential>();
  return {
    mode: 'MEMORY_ONLY',
    get: async (_principal, account) => entries.get(normalizeEmail(account)),
    set: async (_principal, account, credential) => void entries.set(normalizeEmail(account), credential),
    delete: async (_principal, account) => entries.delete(normalizeEmail(account)),
  };
}

// Mallory signs in at an identity provider that lets her set (and "verify") any email address.
const verifier = {
  async verifyAccessToken(token: string): Promise<AuthInfo> {
    if (token !== 'mallory-token') throw new InvalidTokenError('Unknown token');
    return { token, clientId: 'client', scopes: [], expiresAt: Math.floor(Date.now() / 1000) + 3600, extra: { iss: 'https://other-idp.example', sub: 'mallory', email: ALICE.email, email_verified: true } };
  },
};

async function malloryReadsAlicesCredential(vault: CredentialVault): Promise<string> {
  let text = '';
  await withGuardedServer({ vault, bearer: { verifier, required: false } }, async (server) => {
    const alice = await connectClient(server.endpoint);
    await login(server, alice); // Alice's OAuth callback stores her credential
    const mallory = await connectClient(server.endpoint, { headers: { authorization: 'Bearer mallory-token' } });
    text = toolText(await mallory.client.callTool({ name: 'get_credentials', arguments: { email: ALICE.email } }));
    await Promise.all([alice.close(), mallory.close()]);
  });
  return text;
}

describe('MCP credential vault keying', () => {
  it('hands Alice’s credential to any token claiming her email when the vault is keyed by email alone (the attack)', async () => {
    assert.equal(await malloryReadsAlicesCredential(emailKeyedVault()), JSON.stringify(ALICE.credential));
  });

  it('keys credentials by principal and account: the same email under another principal addresses nothing', async () => {
    const text = await malloryReadsAlicesCredential(memoryCredentialVault());
    assert.ok(!text.includes(ALICE.credential.access_token));
    assert.match(text, /No credential is stored for that account/);
  });

  it('keeps length-prefixed keys apart: a principal containing the separator cannot reach another entry', async () => {
    const vault = memoryCredentialVault();
    await vault.set('a|b', 'c@example.com', { t: 1 });
    assert.equal(await vault.get('a', 'b|c@example.com'), undefined);
    assert.deepEqual(await vault.get('a|b', 'C@Example.com'), { t: 1 });
  });
});

describe('MCP login with a failing vault', () => {
  it('fails cleanly: 503, the session stays unauthenticated and usable, and a retry authorizes it', async () => {
    const inner = memoryCredentialVault();
    let failing = true;
    const flaky: CredentialVault = {
      mode: inner.mode,
      get: (p, a) => inner.get(p, a),
      set: async (p, a, c) => {
        if (failing) throw new Error('disk full');
        await inner.set(p, a, c);
      },
      delete: (p, a) => inner.delete(p, a),
    };
    await withGuardedServer({ vault: flaky }, async (server) => {
      const a = await connectClient(server.endpoint);
      await assert.rejects(login(server, a), /login failed: 503 .*credential store is unavailable/);
      assert.equal(server.audit.of('credential_store_failed').at(-1)?.reason, 'vault_write_failed');
      assert.equal(server.audit.of('session_token_issued').length, 0);
      // Not bound without a token: the session still answers its client as before.
      assert.equal(toolText(await a.client.callTool({ name: 'whoami', arguments: {} })), 'anonymous');
      failing = false;
      await login(server, a);
      assert.equal(toolText(await a.client.callTool({ name: 'whoami', arguments: {} })), 'alice');
      assert.equal(toolText(await a.client.callTool({ name: 'get_credentials', arguments: { email: ALICE.email } })), JSON.stringify(ALICE.credential));
      await a.close();
    });
  });
});
