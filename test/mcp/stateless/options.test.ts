import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMcpStatelessGuard, requestStateKeyRing, type McpStatelessGuardOptions } from '../../../src/mcp/stateless/index.js';
import { NEXT_STATE_KEY, STATE_KEY, demoVerifier, statelessServerFactory } from './helpers.js';

const VALID: McpStatelessGuardOptions = {
  resourceServerUrl: 'https://mcp.example.com/mcp',
  oauthMetadata: { issuer: 'https://auth.example.com/', authorization_endpoint: 'https://auth.example.com/a', token_endpoint: 'https://auth.example.com/t', response_types_supported: ['code'] },
  bearer: { verifier: demoVerifier },
  requestState: { keys: [{ id: 'k1', secret: STATE_KEY }] },
  createServer: statelessServerFactory,
};

describe('createMcpStatelessGuard options', () => {
  it('builds a guard from valid options', async () => {
    const guard = createMcpStatelessGuard(VALID);
    assert.equal(typeof guard.router, 'function');
    assert.equal(guard.codec.currentKeyId, 'k1');
    await guard.close();
  });

  it('rejects each invalid option with a message that names it', () => {
    const table: [Partial<Record<keyof McpStatelessGuardOptions, unknown>>, RegExp][] = [
      [{ createServer: undefined }, /: createMcpStatelessGuard: `createServer` must be a function returning a new McpServer per request; got undefined$/],
      [{ resourceServerUrl: 'not a url' }, /: createMcpStatelessGuard: `resourceServerUrl` must be the endpoint's public URL, like 'https:\/\/mcp\.example\.com\/mcp'; got "not a url"$/],
      [{ oauthMetadata: undefined }, /: createMcpStatelessGuard: `oauthMetadata` must be the authorization server metadata/],
      [{ bearer: undefined }, /: createMcpStatelessGuard: `bearer` must be \{ verifier, … \}$/],
      [{ bearer: { verifier: {} } }, /: createMcpStatelessGuard: `bearer.verifier` must be an OAuthTokenVerifier/],
      [{ requestState: undefined }, /: createMcpStatelessGuard: `requestState` must be \{ keys: \[\{ id, secret \}\], … \}$/],
      [{ requestState: { keys: [] } }, /: createRequestStateCodec: `keys` must be a non-empty array/],
      [{ requestState: { keys: [{ id: 'k1', secret: STATE_KEY }], singleUse: 'always' } }, /: createMcpStatelessGuard: `requestState.singleUse` must be false, 'memory', \{ redis \} or a ReplayGuard; got "always"$/],
      [{ legacy: 'stateless' }, /: createMcpStatelessGuard: `legacy` must be an Express handler \(e\.g\. createMcpSessionGuard\(\{…\}\)\.router\) or 'reject'; got "stateless"$/],
      [{ path: 'mcp' }, /: createMcpStatelessGuard: `path` must start with '\/'; got "mcp"$/],
      [{ allowedOrigins: ['nope'] }, /: createMcpStatelessGuard: `allowedOrigins` must hold origins like 'https:\/\/app\.example\.com'; got "nope"$/],
    ];
    for (const [override, message] of table) {
      assert.throws(() => createMcpStatelessGuard({ ...VALID, ...override } as McpStatelessGuardOptions), message, JSON.stringify(Object.keys(override)));
    }
  });

  it('names keys of a ring by a hash of themselves: the same ids whatever the order, never the secret', () => {
    const [a, b] = requestStateKeyRing([STATE_KEY, NEXT_STATE_KEY]);
    const [b2, a2] = requestStateKeyRing([NEXT_STATE_KEY, STATE_KEY]);
    assert.equal(a?.id, a2?.id);
    assert.equal(b?.id, b2?.id);
    assert.notEqual(a?.id, b?.id);
    assert.match(a?.id ?? '', /^[A-Za-z0-9_-]{11}$/);
    assert.ok(!STATE_KEY.includes(a?.id ?? ''));
    assert.throws(() => requestStateKeyRing(['c2hvcnQ=']), /^Error: requestStateKeyRing: secret 1 of 1 must decode to at least 32 bytes; got 5/);
  });
});
