import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemorySessionIndex } from '../../src/index.js';

const id = (n: number) => `session-${String(n).padStart(4, '0')}`;

describe('MemorySessionIndex', () => {
  // One session, a few (held in an array), and many (held in a Map): the same behaviour.
  for (const count of [1, 3, 16, 17, 40]) {
    it(`lists, touches, renames and removes entries the same way with ${count} session(s) of one principal`, async () => {
      const index = new MemorySessionIndex();
      for (let n = 0; n < count; n++) {
        const admitted = await index.admit('alice', {
          sessionId: id(n),
          createdAt: 1000 + n,
          lastSeenAt: 1000 + n,
          ...(n === 0 ? { meta: { device: 'laptop' } } : {}),
        });
        assert.equal(admitted.admitted, true);
      }
      await index.admit('bob', { sessionId: 'bob-1', createdAt: 1, lastSeenAt: 1 });
      let listed = await index.list('alice');
      assert.deepEqual(
        listed.map((e) => e.sessionId),
        Array.from({ length: count }, (_, n) => id(n)),
      );
      assert.deepEqual(listed[0], {
        sessionId: id(0),
        createdAt: 1000,
        lastSeenAt: 1000,
        meta: { device: 'laptop' },
      });
      await index.touch('alice', id(count - 1), 5000);
      await index.touch('alice', id(count - 1), 10); // never backwards
      await index.rename('alice', id(0), 'renamed', 6000);
      listed = await index.list('alice');
      assert.deepEqual(listed.at(-1)?.lastSeenAt, count === 1 ? 6000 : 5000);
      assert.deepEqual(listed[0], {
        sessionId: 'renamed',
        createdAt: 1000,
        lastSeenAt: 6000,
        meta: { device: 'laptop' },
      });
      for (let n = 1; n < count; n += 2) await index.remove('alice', id(n));
      const left = (await index.list('alice')).map((e) => e.sessionId);
      assert.deepEqual(left, [
        'renamed',
        ...Array.from({ length: count }, (_, n) => n)
          .filter((n) => n > 0 && n % 2 === 0)
          .map(id),
      ]);
      assert.deepEqual((await index.removeAll('alice')).sort(), [...left].sort());
      assert.deepEqual(await index.list('alice'), []);
      assert.deepEqual(
        (await index.list('bob')).map((e) => e.sessionId),
        ['bob-1'],
      );
    });
  }

  it('enforces rejectLogin and evictOldest across the switch from an array to a map', async () => {
    const index = new MemorySessionIndex();
    for (let n = 0; n < 20; n++)
      await index.admit('alice', { sessionId: id(n), createdAt: n, lastSeenAt: n });
    const rejected = await index.admit(
      'alice',
      { sessionId: 'one-more', createdAt: 99, lastSeenAt: 99 },
      { max: 20, onLimit: 'rejectLogin' },
      { phase: 'reserve' },
    );
    assert.equal(rejected.admitted, false);
    const replacing = await index.admit(
      'alice',
      { sessionId: 'again', createdAt: 99, lastSeenAt: 99 },
      { max: 20, onLimit: 'rejectLogin' },
      { phase: 'reserve', replacing: id(3) },
    );
    assert.equal(replacing.admitted, true, 'a re-login replacing one of them does not count');
    await index.remove('alice', 'again');
    const evicting = await index.admit(
      'alice',
      { sessionId: 'newest', createdAt: 100, lastSeenAt: 100 },
      { max: 18, onLimit: 'evictOldest' },
    );
    assert.deepEqual(evicting, { admitted: true, evicted: [id(0), id(1), id(2)] });
    const none = await index.admit(
      'nobody',
      { sessionId: 'x', createdAt: 1, lastSeenAt: 1 },
      { max: 0, onLimit: 'rejectLogin' },
      { phase: 'reserve' },
    );
    assert.equal(none.admitted, false, 'a limit of 0 admits nobody');
    assert.deepEqual(await index.list('nobody'), []);
  });

  it('does not bring back an entry removed while its login was in flight', async () => {
    const index = new MemorySessionIndex();
    await index.admit('alice', { sessionId: 'a', createdAt: 1, lastSeenAt: 1 }, undefined, {
      phase: 'reserve',
    });
    await index.remove('alice', 'a');
    const confirmed = await index.admit(
      'alice',
      { sessionId: 'a', createdAt: 1, lastSeenAt: 2 },
      undefined,
      { phase: 'confirm' },
    );
    assert.equal(confirmed.admitted, false);
    assert.deepEqual(await index.list('alice'), []);
  });
});
