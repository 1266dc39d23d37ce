import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMcpSessionGuard, KEY_GENERATION_COMMAND, type McpSessionGuardOptions } from '../../src/mcp/index.js';
import { connectClient, credentialServerFactory, SECRET, startGuardedServer } from './helpers.js';

const createServer = credentialServerFactory();
const base = { sessionSecret: SECRET, createServer, sweepInterval: false } as const;

describe('createMcpSessionGuard options', () => {
  const cases: [string, unknown, string, string][] = [
    ['options missing', undefined, 'TypeError', 'createMcpSessionGuard: `options` must be an object; got undefined'],
    ['used as a middleware', { method: 'GET', headers: {} }, 'TypeError', 'createMcpSessionGuard: called as a middleware; call it with options and mount `guard.router`: app.use(createMcpSessionGuard({ … }).router)'],
    ['createServer missing', { sessionSecret: SECRET }, 'TypeError', 'createMcpSessionGuard: `createServer` must be a function returning a new McpServer per session; got undefined'],
    ['sessionSecret missing', { createServer }, 'Error', `createMcpSessionGuard: \`sessionSecret\` (SESSION_SECRET) is not set; generate a key with: ${KEY_GENERATION_COMMAND}`],
    ['sessionSecret too short', { createServer, sessionSecret: Buffer.alloc(16) }, 'Error', `createMcpSessionGuard: \`sessionSecret\` (SESSION_SECRET) must decode to at least 32 bytes; got 16; generate a key with: ${KEY_GENERATION_COMMAND}`],
    ['idleTimeout not a duration', { ...base, idleTimeout: 'soon' }, 'Error', `createMcpSessionGuard: \`idleTimeout\` must be a duration like '30m', '4h', '15s' or a number of milliseconds; got "soon"`],
    ['maxSessionsPerUser zero', { ...base, maxSessionsPerUser: 0 }, 'TypeError', 'createMcpSessionGuard: `maxSessionsPerUser` must be a whole number ≥ 1; got 0'],
    ['onSessionLimit unknown', { ...base, onSessionLimit: 'ignore' }, 'TypeError', `createMcpSessionGuard: \`onSessionLimit\` must be 'evictOldest' or 'rejectLogin'; got "ignore"`],
    ['fingerprint input unknown', { ...base, fingerprint: { inputs: ['cookie'] } }, 'TypeError', 'createMcpSessionGuard: `fingerprint.inputs` may contain userAgent, clientInfo, ip; got "cookie"'],
    ['fingerprint policy unknown', { ...base, fingerprint: { policy: 'ignore' } }, 'TypeError', `createMcpSessionGuard: \`fingerprint.policy\` must be 'reject' or 'audit'; got "ignore"`],
    ['allowedOrigins not origins', { ...base, allowedOrigins: ['example.com'] }, 'TypeError', `createMcpSessionGuard: \`allowedOrigins\` must hold origins like 'https://app.example.com'; got "example.com"`],
    ['path relative', { ...base, path: 'mcp' }, 'TypeError', `createMcpSessionGuard: \`path\` must start with '/'; got "mcp"`],
    ['rate limit rule invalid', { ...base, rateLimit: { perIp: { points: 0, window: '1m' } } }, 'TypeError', 'createMcpSessionGuard: `rateLimit.perIp` must be { points, window } with whole points ≥ 1 and a window like \'1m\'; got {"points":0,"window":"1m"}'],
    ['rate limit window in seconds (the old `duration`)', { ...base, rateLimit: { perIp: { points: 10, duration: 60 } } }, 'Error', "createMcpSessionGuard: `rateLimit.perIp`: `duration` (seconds) is now `window`, a duration like '30m' or a number of milliseconds: write `window: '1m'`."],
    ['rate limit window not whole seconds', { ...base, rateLimit: { perIp: { points: 10, window: 1500 } } }, 'RangeError', 'createMcpSessionGuard: `rateLimit.perIp`.window must be whole seconds; got 1500'],
    ['sweepInterval not a duration', { ...base, sweepInterval: 'often' }, 'Error', "createMcpSessionGuard: `sweepInterval` must be a duration like '30m', '4h', '15s' or a number of milliseconds; got \"often\""],
  ];
  for (const [name, options, errorName, message] of cases) {
    it(`fails at construction when ${name}`, () => {
      assert.throws(() => createMcpSessionGuard(options as McpSessionGuardOptions), { name: errorName, message });
    });
  }
});

describe('authorizeSession', () => {
  it('refuses an unknown session id with 404 and an audit line', async () => {
    const server = await startGuardedServer();
    await assert.rejects(server.guard.authorizeSession('no-such-session', { principal: 'alice' }), { name: 'McpGuardError', code: 'SESSION_NOT_FOUND', status: 404 });
    assert.equal(server.audit.of('mcp_session_unknown').at(-1)?.reason, 'authorize_unknown_session');
    await server.close();
  });

  it('refuses credentials for an account outside the granted emails and leaves the session unauthenticated', async () => {
    const server = await startGuardedServer();
    const a = await connectClient(server.endpoint);
    await assert.rejects(
      server.guard.authorizeSession(a.sessionId as string, { principal: 'alice', email: 'alice@example.com', credentials: { 'bob@example.com': { t: 1 } } }),
      { name: 'TypeError', message: 'authorizeSession: `identity.credentials` has an account that is not in `identity.emails`: "bob@example.com"' },
    );
    assert.equal(await server.guard.vault.get('bob@example.com'), undefined);
    const status = JSON.parse(((await a.client.readResource({ uri: 'session://validate' })).contents[0] as { text: string }).text);
    assert.equal(status.authenticated, false);
    await a.close();
    await server.close();
  });
});
