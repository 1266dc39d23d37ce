import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../src/clock/index.js';
import { PreAuthPool, SessionRegistry, sessionExpiry } from '../../src/mcp/registry.js';

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

describe('MCP session registry expiry', () => {
  const timeouts = { idleTimeoutMs: 30 * 60_000, absoluteTimeoutMs: 4 * 3_600_000, preAuthIdleTimeoutMs: 5 * 60_000 };

  /** A session whose timestamp reads are counted: a visit is any look at its times. */
  function countedSession(id: string, at: number, principal: string | undefined, visits: { count: number }) {
    let lastSeenAt = at;
    return {
      id,
      ip: '10.0.0.1',
      createdAt: at,
      authorizedAt: principal === undefined ? undefined : at,
      principal,
      get lastSeenAt() {
        visits.count += 1;
        return lastSeenAt;
      },
      set lastSeenAt(value: number) {
        lastSeenAt = value;
      },
    };
  }

  it('visits only the sessions that are due, not every live session, on each sweep', () => {
    const clock = new ManualClock();
    const visits = { count: 0 };
    const registry = new SessionRegistry<ReturnType<typeof countedSession>>({ timeouts, clock });
    for (let i = 0; i < 5000; i++) registry.add(countedSession(`a${i}`, clock.now(), 'alice', visits));
    clock.advance('1m');
    const early = [countedSession('early-1', clock.now(), undefined, visits), countedSession('early-2', clock.now(), undefined, visits)];
    for (const session of early) registry.add(session);
    visits.count = 0;
    for (let sweep = 0; sweep < 100; sweep++) assert.deepEqual(registry.takeExpired(), []);
    assert.equal(visits.count, 0, 'a hundred sweeps with nothing due look at no session');
    clock.advance('5m'); // the two pre-auth sessions are past their 5-minute idle timeout; 5000 others are not
    const expired = registry.takeExpired();
    assert.deepEqual(expired.map(([session, reason]) => [session.id, reason]).sort(), [['early-1', 'idle_timeout'], ['early-2', 'idle_timeout']]);
    assert.ok(visits.count <= 4, `only the two due sessions were looked at (${visits.count} reads)`);
    for (const [session] of expired) registry.delete(session);
    assert.equal(registry.size, 5000);
  });

  it('re-queues a session that was active since it was queued, and expires it at its new deadline', () => {
    const clock = new ManualClock();
    const visits = { count: 0 };
    const registry = new SessionRegistry<ReturnType<typeof countedSession>>({ timeouts, clock });
    const busy = countedSession('busy', clock.now(), 'alice', visits);
    registry.add(busy);
    clock.advance('20m');
    busy.lastSeenAt = clock.now();
    clock.advance('20m'); // 40 minutes after it was queued, 20 after its last request
    assert.deepEqual(registry.takeExpired(), [], 'its queued deadline came, its real one did not');
    clock.advance('10m');
    assert.deepEqual(registry.takeExpired().map(([session, reason]) => [session.id, reason]), [['busy', 'idle_timeout']]);
  });

  it('drops what a removed session left in the queue, and keeps the queue bounded under churn', () => {
    const clock = new ManualClock();
    const registry = new SessionRegistry<ReturnType<typeof countedSession>>({ timeouts, clock, preAuth: { maxPerIp: 10, maxSessions: 10 } });
    const visits = { count: 0 };
    for (let i = 0; i < 10_000; i++) {
      const session = countedSession(`churn-${i}`, clock.now(), undefined, visits);
      registry.trackPreAuth(session);
      registry.add(session);
      registry.delete(session);
    }
    assert.equal(registry.size, 0);
    assert.equal(registry.preAuthRefusal('10.0.0.1'), undefined, 'every removed session left the pre-auth pool');
    clock.advance('1d');
    assert.deepEqual(registry.takeExpired(), [], 'a removed session is never reported');
    assert.ok(visits.count < 10_000 * 3, 'rebuilding the queue stays amortised');
  });

  it('finds a principal’s sessions without a scan, and forgets them when they leave', () => {
    const clock = new ManualClock();
    const registry = new SessionRegistry<ReturnType<typeof countedSession>>({ timeouts, clock });
    const visits = { count: 0 };
    const a = countedSession('a', clock.now(), 'alice', visits);
    const b = countedSession('b', clock.now(), undefined, visits);
    registry.add(a);
    registry.add(b);
    assert.deepEqual(registry.ofPrincipal('alice').map((s) => s.id), ['a']);
    b.principal = 'alice';
    registry.bound(b);
    assert.deepEqual(registry.ofPrincipal('alice').map((s) => s.id).sort(), ['a', 'b']);
    registry.delete(a);
    assert.deepEqual(registry.ofPrincipal('alice').map((s) => s.id), ['b']);
  });
});
