import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { estimateIdEntropy, MIN_ID_ENTROPY_BITS } from '../../src/attack-suite/index.js';

const sample = (make: (i: number) => string, n = 64) => Array.from({ length: n }, (_, i) => make(i));

describe('attack suite: id entropy estimate', () => {
  it('credits 32 random bytes in base64url with well over 128 bits', () => {
    const estimate = estimateIdEntropy(sample(() => randomBytes(32).toString('base64url')));
    assert.ok(estimate.bits >= 250 && estimate.bits <= 258, `${estimate.bits}`);
    assert.equal(estimate.alphabet, 'base64url (64)');
    assert.equal(estimate.repeats, 0);
    assert.equal(estimate.sequential, undefined);
  });

  it('credits express-session\'s default 24-byte uid with 192 bits', () => {
    const estimate = estimateIdEntropy(sample(() => randomBytes(24).toString('base64url')));
    assert.equal(estimate.bits, 192);
  });

  it('scores a UUIDv4 at its real 122 bits, below the 128 ASVS 5 asks for', () => {
    const estimate = estimateIdEntropy(sample(() => randomUUID()));
    assert.ok(estimate.bits >= 118 && estimate.bits <= 124, `${estimate.bits}`);
    assert.ok(estimate.bits < MIN_ID_ENTROPY_BITS);
    assert.equal(estimate.alphabet, 'hex (16)');
    assert.equal(estimate.constantPositions, 5); // four dashes and the version digit
  });

  it('does not fail a genuine UUIDv4 because a small sample missed one of its variant nibble\'s four values', () => {
    // 16 UUIDs whose variant nibble (position 19: 8, 9, a or b) shows only 8, 9 and a, as one
    // sample in 25 of 16 does: counting log2(3) there scored 121 bits and failed the MCP check.
    const variants = ['8', '9', 'a'];
    const ids = sample((i) => {
      const id = randomUUID();
      return `${id.slice(0, 19)}${variants[i % 3]}${id.slice(20)}`;
    }, 16);
    assert.equal(estimateIdEntropy(ids).bits, 122);
  });

  it('gives nothing for a constant prefix such as a timestamp', () => {
    const prefix = Date.now().toString(16);
    const estimate = estimateIdEntropy(sample(() => prefix + randomBytes(8).toString('hex')));
    assert.equal(estimate.bits, 64);
    assert.ok(estimate.constantPositions >= prefix.length - 1);
  });

  it('flags a counter as sequential', () => {
    const estimate = estimateIdEntropy(sample((i) => String(1000 + i)));
    assert.match(estimate.sequential ?? '', /decimal numbers that all fall within a span of 63/);
    assert.ok(estimate.bits < 20);
  });

  it('does not take short random ids for a counter (they are guessable for their few bits, not for a sequence)', () => {
    const estimate = estimateIdEntropy(sample(() => randomBytes(6).toString('hex')));
    assert.equal(estimate.sequential, undefined);
    assert.ok(estimate.bits <= 48);
  });

  it('flags a hex clock as sequential', () => {
    const base = BigInt(Date.now()) * 1_000_000n;
    const estimate = estimateIdEntropy(sample((i) => (base + BigInt(i * 7919)).toString(16)));
    assert.match(estimate.sequential ?? '', /hexadecimal/);
  });

  it('counts repeated ids', () => {
    const ids = sample(() => randomBytes(32).toString('base64url'), 30);
    const estimate = estimateIdEntropy([...ids, ids[0] as string, ids[1] as string]);
    assert.equal(estimate.repeats, 2);
  });
});
