import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../src/clock/index.js';
import { PreAuthPool, sessionExpiry } from '../../src/mcp/registry.js';

describe('MCP session registry rules', () => {
  const timeouts = { idleTimeoutMs: 30 * 60_000, absoluteTimeoutMs: 4 * 3_600_000, preAuthIdleTimeoutMs: 5 * 60_000 };

  it('expires a never-authenticated session on the short pre-auth idle timeout, an authenticated one on the normal one', () => {
    const clock = new ManualClock();
    const t0 = clock.now();
    const anonymous = { createdAt: t0, lastSeenAt: t0, authorizedAt: undefined, principal: undefined };
    const alice = { createdAt: t0, lastSeenAt: t0, authorizedAt: t0, principal: 'alice' };
    clock.advance('5m');
    assert.equal(sessionExpiry(anonymous, timeouts, clock), 'idle_timeout');
    assert.equal(sessionExpiry(alice, timeouts, clock), undefined);
    assert.equal(sessionExpiry(anonymous, { ...timeouts, preAuthIdleTimeoutMs: undefined }, clock), undefined, 'without pre-auth limits the normal timeout applies');
    clock.advance('25m');
    assert.equal(sessionExpiry(alice, timeouts, clock), 'idle_timeout');
    assert.equal(sessionExpiry({ ...alice, lastSeenAt: clock.now() + 3_600_000 * 3 }, timeouts, new ManualClock(t0 + 4 * 3_600_000)), 'absolute_timeout', 'activity never extends the absolute lifetime');
  });

  it('counts never-authenticated sessions per IP and in total, and frees a place when one leaves', () => {
    const pool = new PreAuthPool<object>({ maxPerIp: 2, maxSessions: 3 });
    const [a, b, c, d] = [{}, {}, {}, {}];
    pool.add(a, '10.0.0.1');
    pool.add(a, '10.0.0.1'); // counted once
    pool.add(b, '10.0.0.1');
    assert.deepEqual(pool.refusal('10.0.0.1'), { reason: 'preauth_per_ip', limit: 2 });
    assert.equal(pool.refusal('10.0.0.2'), undefined);
    pool.add(c, '10.0.0.2');
    assert.deepEqual(pool.refusal('10.0.0.3'), { reason: 'preauth_total', limit: 3 });
    pool.remove(a, '10.0.0.1');
    pool.remove(d, '10.0.0.9'); // never added: nothing changes
    assert.equal(pool.size, 2);
    assert.equal(pool.refusal('10.0.0.1'), undefined);
    pool.add(d, undefined); // an unknown address is one bucket of its own
    assert.equal(pool.size, 3);
    assert.deepEqual(pool.refusal('10.0.0.7'), { reason: 'preauth_total', limit: 3 });
  });
});
