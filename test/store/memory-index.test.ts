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

  it('gives back every time exactly, ordered oldest first with ties by admission: timestamps, times weeks apart, and fractions', async () => {
    const index = new MemorySessionIndex();
    const t = 1_893_456_000_000;
    const day = 86_400_000;
    await index.admit('alice', { sessionId: 'a', createdAt: t, lastSeenAt: t });
    await index.admit('alice', { sessionId: 'b', createdAt: t + 40 * day, lastSeenAt: t + 40 * day + 1 });
    await index.admit('alice', { sessionId: 'c', createdAt: t - 40 * day, lastSeenAt: t });
    await index.admit('alice', { sessionId: 'tie', createdAt: t, lastSeenAt: t });
    const times = async () => (await index.list('alice')).map((e) => [e.sessionId, e.createdAt, e.lastSeenAt]);
    assert.deepEqual(await times(), [
      ['c', t - 40 * day, t],
      ['a', t, t],
      ['tie', t, t],
      ['b', t + 40 * day, t + 40 * day + 1],
    ]);
    // A clock with fractions of a millisecond (performance.timeOrigin + performance.now()).
    await index.touch('alice', 'a', t + 0.25);
    await index.admit('alice', { sessionId: 'f', createdAt: t + 0.5, lastSeenAt: t + 0.75 });
    await index.rename('alice', 'tie', 'tie-2', t + 1.125);
    assert.deepEqual(await times(), [
      ['c', t - 40 * day, t],
      ['a', t, t + 0.25],
      ['tie-2', t, t + 1.125],
      ['f', t + 0.5, t + 0.75],
      ['b', t + 40 * day, t + 40 * day + 1],
    ]);
    // A time far below the first one, with a fraction: as an offset it would not come back exactly.
    await index.admit('bob', { sessionId: 'early', createdAt: 0.1, lastSeenAt: 0.3 });
    assert.deepEqual(
      (await index.list('bob')).map((e) => [e.createdAt, e.lastSeenAt]),
      [[0.1, 0.3]],
    );
    assert.equal((await index.list('alice'))[0]?.createdAt, t - 40 * day, 'the others are kept exactly');
    const evicted = await index.admit('alice', { sessionId: 'g', createdAt: t + 2, lastSeenAt: t + 2 }, { max: 4, onLimit: 'evictOldest' });
    assert.deepEqual(evicted.evicted, ['c', 'a']);
  });
});
