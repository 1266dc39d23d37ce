import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createClient } from 'redis';
import { Auditor, memorySink } from '../../../src/audit/index.js';
import { ManualClock } from '../../../src/clock/index.js';
import { memoryStateStore, redisStateStore, type PrincipalStateStore } from '../../../src/mcp/stateless/index.js';
import { redisUrl, uniquePrefix } from '../../redis/support.js';

type Make = (clock: ManualClock, auditor: Auditor) => Promise<{ store: PrincipalStateStore; done(): Promise<void> }>;

const kinds: [string, Make][] = [
  ['memory', async (clock, auditor) => ({ store: memoryStateStore({ clock, audit: auditor, ttl: '10m' }), async done() {} })],
  [
    'Redis',
    async (clock, auditor) => {
      const client = createClient({ url: redisUrl() });
      await client.connect();
      return { store: redisStateStore({ client, keyPrefix: uniquePrefix('state-store'), clock, audit: auditor, ttl: '10m' }), done: () => client.close() };
    },
  ],
];

describe('principal-scoped state store', () => {
  for (const [kind, make] of kinds) {
    it(`gives a value back to the principal that stored it, and nothing to another, with an audit event (${kind})`, async () => {
      const clock = new ManualClock();
      const audit = memorySink();
      const { store, done } = await make(clock, new Auditor({ sinks: [audit], clock }));
      try {
        const handle = await store.put('alice', { draft: 'ALICE-DRAFT' });
        assert.match(handle, /^[A-Za-z0-9_-]{32}$/);
        assert.deepEqual(await store.get('alice', handle), { draft: 'ALICE-DRAFT' });
        assert.equal(await store.get('bob', handle, { ip: '203.0.113.9' }), undefined);
        const event = audit.events.at(-1);
        assert.equal(event?.type, 'state_handle_cross_principal');
        assert.equal(event?.principal, 'bob');
        assert.equal(event?.ip, '203.0.113.9');
        assert.ok(!JSON.stringify(audit.events).includes(handle) && !JSON.stringify(audit.events).includes('ALICE-DRAFT'), 'no handle, no value in the audit log');
        assert.equal(await store.delete('bob', handle), false, 'bob cannot delete it either');
        assert.deepEqual(await store.get('alice', handle), { draft: 'ALICE-DRAFT' });
        // Unknown and malformed handles address nothing, without an alarm: only a live handle of another principal is an attempt.
        const events = audit.events.length;
        assert.equal(await store.get('bob', 'A'.repeat(32)), undefined);
        assert.equal(await store.get('bob', '../alice'), undefined);
        assert.equal(audit.events.length, events);
      } finally {
        await done();
      }
    });

    it(`forgets values when their time is up, and when deleted (${kind})`, async () => {
      const clock = new ManualClock();
      const { store, done } = await make(clock, new Auditor({ clock }));
      try {
        const short = await store.put('alice', 1, { ttl: '1m' });
        const long = await store.put('alice', 2);
        clock.advance('2m');
        assert.equal(await store.get('alice', short), undefined);
        assert.equal(await store.get('alice', long), 2);
        assert.equal(await store.delete('alice', long), true);
        assert.equal(await store.get('alice', long), undefined);
      } finally {
        await done();
      }
    });
  }

  it('keeps principals that share a prefix or contain separators apart (keys are hashed)', async () => {
    const store = memoryStateStore();
    const handle = await store.put('alice:x', 'v');
    assert.equal(await store.get('alice', handle), undefined);
    assert.equal(await store.get('alice:x', handle), 'v');
  });

  it('rejects values that are not JSON and principals that are empty', async () => {
    const store = memoryStateStore();
    await assert.rejects(store.put('alice', undefined), /must be JSON-serializable/);
    await assert.rejects(store.put('', 1), /`principal` must be a non-empty string/);
  });
});
