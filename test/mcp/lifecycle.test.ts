/**
 * The session lifecycle on its own: records without a transport, the core's MemorySessionIndex,
 * an injected clock. What binding, limits, revocation and expiry do to the registry and the index.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Auditor, memorySink } from '../../src/audit/index.js';
import { ManualClock } from '../../src/clock/index.js';
import { createSessionChannels } from '../../src/mcp/channels.js';
import { createSessionLifecycle } from '../../src/mcp/lifecycle.js';
import { SessionRegistry } from '../../src/mcp/registry.js';
import { newSessionRecord, type SessionRecord } from '../../src/mcp/session-record.js';
import type { SessionLimit } from '../../src/store/contracts.js';
import { MemorySessionIndex } from '../../src/session-index/index.js';
import { SECRET } from './helpers.js';

function setup(limit: SessionLimit = { max: 2, onLimit: 'evictOldest' }) {
  const clock = new ManualClock();
  const audit = memorySink();
  const auditor = new Auditor({ sinks: [audit], hashSecret: SECRET, clock });
  const registry = new SessionRegistry<SessionRecord>({ timeouts: { idleTimeoutMs: 30 * 60_000, absoluteTimeoutMs: 4 * 3_600_000 }, clock });
  const index = new MemorySessionIndex();
  const lifecycle = createSessionLifecycle({ registry, channels: createSessionChannels(), index, signals: undefined, limit, absoluteTimeoutMs: 4 * 3_600_000, auditor, clock });
  let n = 0;
  function live(): SessionRecord {
    const record = newSessionRecord({ id: `session-${++n}`, now: clock.now(), fingerprint: 'fp', clientInfo: 'c/1', ip: '10.0.0.1' });
    record.initialized = true;
    registry.add(record);
    return record;
  }
  const ids = async (principal: string) => (await index.list(principal)).map((entry) => entry.sessionId);
  return { clock, audit, registry, index, lifecycle, live, ids };
}

describe('MCP session lifecycle', () => {
  it('binds a session to its principal through the shared index, and bumps its generation on every authorization', async () => {
    const { lifecycle, live, registry, ids } = setup();
    const record = live();
    await lifecycle.bind(record, { principal: 'alice', email: 'Alice@Example.com' }, 'callback');
    assert.equal(record.principal, 'alice');
    assert.deepEqual([...record.emails], ['alice@example.com']);
    assert.equal(record.generation, 1);
    assert.deepEqual(await ids('alice'), [record.id]);
    assert.deepEqual(registry.ofPrincipal('alice'), [record]);
    await lifecycle.bind(record, { principal: 'alice', email: 'work@example.com' }, 'callback');
    assert.equal(record.generation, 2);
    await assert.rejects(lifecycle.bind(record, { principal: 'mallory' }, 'callback'), { code: 'SESSION_OWNER_MISMATCH', status: 403 });
  });

  it('evicts the oldest session beyond the limit under evictOldest, and refuses the new one under rejectLogin', async () => {
    const evicting = setup({ max: 2, onLimit: 'evictOldest' });
    const [a, b, c] = [evicting.live(), evicting.live(), evicting.live()];
    for (const record of [a, b, c]) {
      await evicting.lifecycle.bind(record, { principal: 'alice' }, 'callback');
      evicting.clock.advance('1s');
    }
    await evicting.lifecycle.settled();
    assert.equal(a.retired, true);
    assert.deepEqual((await evicting.ids('alice')).sort(), [b.id, c.id].sort());
    assert.equal(evicting.registry.get(a.id), undefined);

    const rejecting = setup({ max: 2, onLimit: 'rejectLogin' });
    const [x, y, z] = [rejecting.live(), rejecting.live(), rejecting.live()];
    await rejecting.lifecycle.bind(x, { principal: 'alice' }, 'callback');
    await rejecting.lifecycle.bind(y, { principal: 'alice' }, 'callback');
    await assert.rejects(rejecting.lifecycle.bind(z, { principal: 'alice' }, 'callback'), { code: 'SESSION_LIMIT_REACHED', status: 409 });
    assert.equal(z.principal, undefined, 'nothing was granted');
    assert.deepEqual((await rejecting.ids('alice')).length, 2);
  });

  it('revokes a principal’s sessions, and only theirs, from the registry and the index', async () => {
    const { lifecycle, live, registry, ids } = setup({ max: 5, onLimit: 'evictOldest' });
    const [a1, a2, b1] = [live(), live(), live()];
    await lifecycle.bind(a1, { principal: 'alice' }, 'callback');
    await lifecycle.bind(a2, { principal: 'alice' }, 'callback');
    await lifecycle.bind(b1, { principal: 'bob' }, 'callback');
    assert.equal(lifecycle.revokePrincipal('alice', 'revoked_by_app'), 2);
    await lifecycle.settled();
    assert.deepEqual(await ids('alice'), []);
    assert.deepEqual(await ids('bob'), [b1.id]);
    assert.deepEqual(registry.all(), [b1]);
  });

  it('expires what is due on sweep and unindexes it; the emergency switch ends everything', async () => {
    const { lifecycle, live, registry, clock, audit, ids } = setup({ max: 5, onLimit: 'evictOldest' });
    const idle = live();
    await lifecycle.bind(idle, { principal: 'alice' }, 'callback');
    clock.advance('20m');
    const active = live();
    await lifecycle.bind(active, { principal: 'alice' }, 'callback');
    clock.advance('10m');
    assert.equal(lifecycle.sweep(), 1);
    await lifecycle.settled();
    assert.deepEqual(await ids('alice'), [active.id]);
    assert.equal(audit.of('mcp_session_expired').at(-1)?.reason, 'idle_timeout');
    assert.equal(lifecycle.emergency('incident'), 1);
    await lifecycle.settled();
    assert.equal(registry.size, 0);
    assert.deepEqual(await ids('alice'), []);
  });

  it('discards a session that never initialized without touching another one', async () => {
    const { lifecycle, live, index, clock, ids } = setup();
    const kept = live();
    await lifecycle.bind(kept, { principal: 'alice' }, 'callback');
    const pending = newSessionRecord({ id: 'pending', now: clock.now(), fingerprint: 'fp', clientInfo: 'c/1', ip: '10.0.0.1' });
    await lifecycle.bind(pending, { principal: 'alice' }, 'bearer');
    assert.equal((await index.list('alice')).length, 2);
    lifecycle.discard(pending);
    await lifecycle.settled();
    assert.deepEqual(await ids('alice'), [kept.id]);
  });
});
