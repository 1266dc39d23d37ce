import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Auditor, memorySink } from '../../src/audit/index.js';
import { ManualClock } from '../../src/clock/index.js';
import { newSessionRecord } from '../../src/mcp/session-record.js';
import { createSessionTokens } from '../../src/mcp/session-tokens.js';
import { SECRET } from './helpers.js';

const secret = Buffer.from(SECRET, 'base64');

function setup(policy: 'reject' | 'audit' = 'reject') {
  const clock = new ManualClock();
  const audit = memorySink();
  const auditor = new Auditor({ sinks: [audit], hashSecret: secret, clock });
  const tokens = createSessionTokens({ secrets: [secret], clock, auditor, tokenTtlMs: 10 * 60_000, fingerprint: { inputs: ['userAgent', 'clientInfo'], policy } });
  const record = newSessionRecord({ id: 'session-1', now: clock.now(), fingerprint: 'fp-1', clientInfo: 'client/1.0', ip: '10.0.0.1' });
  Object.assign(record, { principal: 'alice', authorizedAt: clock.now(), generation: 1 });
  return { clock, audit, tokens, record };
}

describe('session tokens', () => {
  it('accepts the token it issued for the session’s current authorization, and audits the issue', () => {
    const { tokens, record, audit, clock } = setup();
    const issued = tokens.issue(record, clock.now() + 3_600_000);
    assert.equal(issued.principal, 'alice');
    assert.equal(issued.expiresAt, clock.now() + 10 * 60_000, 'the shorter of the token TTL and the absolute deadline');
    assert.equal(tokens.check(record, issued.token, 'fp-1', '10.0.0.1'), undefined);
    assert.equal(audit.of('session_token_issued').length, 1);
    assert.ok(!JSON.stringify(audit.events).includes(issued.token), 'the token is never in an audit event');
  });

  it('caps the token at the session’s absolute deadline', () => {
    const { tokens, record, clock } = setup();
    assert.equal(tokens.issue(record, clock.now() + 60_000).expiresAt, clock.now() + 60_000);
  });

  it('refuses each way a token can be wrong, with its own code, event and reason', () => {
    const { tokens, record, clock } = setup();
    const issued = tokens.issue(record, clock.now() + 3_600_000).token;
    const other = newSessionRecord({ id: 'session-2', now: clock.now(), fingerprint: 'fp-1', clientInfo: 'client/1.0', ip: undefined });
    Object.assign(other, { principal: 'alice', generation: 1 });
    const summary = (refused: ReturnType<typeof tokens.check>) => refused && [refused.error.code, refused.error.status, refused.event, refused.reason];
    assert.deepEqual(summary(tokens.check(other, issued, 'fp-1', undefined)), ['INVALID_SESSION_TOKEN', 401, 'session_token_mismatch', 'token_for_other_session']);
    assert.deepEqual(summary(tokens.check(record, `${issued.slice(0, -1)}${issued.endsWith('A') ? 'B' : 'A'}`, 'fp-1', undefined)), ['INVALID_SESSION_TOKEN', 401, 'invalid_token_signature', 'signature']);
    assert.deepEqual(summary(tokens.check(record, 'not-a-token', 'fp-1', undefined)), ['INVALID_SESSION_TOKEN', 401, 'invalid_token_signature', 'malformed']);
    record.generation += 1;
    assert.deepEqual(summary(tokens.check(record, issued, 'fp-1', undefined)), ['INVALID_SESSION_TOKEN', 401, 'session_token_mismatch', 'token_superseded']);
    record.generation -= 1;
    record.principal = 'bob';
    assert.deepEqual(summary(tokens.check(record, issued, 'fp-1', undefined)), ['SESSION_OWNER_MISMATCH', 403, 'session_owner_mismatch', 'token_principal_differs']);
    record.principal = 'alice';
    clock.advance('10m');
    assert.deepEqual(summary(tokens.check(record, issued, 'fp-1', undefined)), ['SESSION_TOKEN_EXPIRED', 401, 'expired_token', undefined]);
  });

  it('refuses any token on a session that was never authorized: it can only be someone else’s', () => {
    const { tokens, record, clock } = setup();
    const issued = tokens.issue(record, clock.now() + 3_600_000).token;
    assert.equal(tokens.checkUnissued(issued).reason, 'token_for_other_session');
    assert.equal(tokens.checkUnissued('forged.token').reason, 'malformed');
  });

  it('refuses a token from another connection under the reject policy, and only audits it under the audit policy', () => {
    const rejecting = setup('reject');
    const token = rejecting.tokens.issue(rejecting.record, rejecting.clock.now() + 3_600_000).token;
    assert.equal(rejecting.tokens.check(rejecting.record, token, 'fp-other', '10.0.0.9')?.error.code, 'FINGERPRINT_MISMATCH');
    assert.equal(rejecting.audit.of('connection_fingerprint_mismatch').at(-1)?.reason, 'rejected');
    const auditing = setup('audit');
    const audited = auditing.tokens.issue(auditing.record, auditing.clock.now() + 3_600_000).token;
    assert.equal(auditing.tokens.check(auditing.record, audited, 'fp-other', '10.0.0.9'), undefined);
    assert.equal(auditing.audit.of('connection_fingerprint_mismatch').at(-1)?.reason, 'audited');
  });

  it('derives the fingerprint from the chosen inputs only, keyed by the session secret', () => {
    const { tokens } = setup();
    const req = (userAgent: string, ip: string) => ({ headers: { 'user-agent': userAgent }, ip }) as never;
    assert.equal(tokens.fingerprintOf(req('agent/1', '10.0.0.1'), 'client/1.0'), tokens.fingerprintOf(req('agent/1', '10.0.0.2'), 'client/1.0'), 'the IP is not an input by default');
    assert.notEqual(tokens.fingerprintOf(req('agent/1', '10.0.0.1'), 'client/1.0'), tokens.fingerprintOf(req('agent/2', '10.0.0.1'), 'client/1.0'));
  });
});
