import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createClient } from 'redis';
import { createRequestStateCodec as createSdkRequestStateCodec, type ServerContext } from '@modelcontextprotocol/server';
import { Auditor, memorySink } from '../../../src/audit/index.js';
import { ManualClock } from '../../../src/clock/index.js';
import { createRequestStateCodec, memoryReplayGuard, redisReplayGuard, type RequestStateCodecOptions } from '../../../src/mcp/stateless/index.js';
import { redisUrl, uniquePrefix } from '../../redis/support.js';
import { NEXT_STATE_KEY, STATE_KEY } from './helpers.js';

const ALICE = { principal: 'alice', request: 'tools/call\0transfer' };
const BOB = { principal: 'bob', request: 'tools/call\0transfer' };
const SECRET_PAYLOAD = { amount: 5, note: 'PAYLOAD-SECRET-42' };

function codecWith(overrides: Partial<RequestStateCodecOptions> = {}) {
  const clock = new ManualClock();
  const audit = memorySink();
  const auditor = new Auditor({ sinks: [audit], clock });
  const codec = createRequestStateCodec<typeof SECRET_PAYLOAD>({ keys: [{ id: 'k1', secret: STATE_KEY }], audience: 'https://mcp.example.com/mcp', audit: auditor, clock, ...overrides });
  return { codec, clock, audit };
}

/** Every audit event, as it would be written: never the state, never the payload. */
function assertNoLeak(audit: ReturnType<typeof memorySink>, state: string): void {
  const written = JSON.stringify(audit.events);
  assert.ok(!written.includes(state.slice(10, 40)), 'the state is not in the audit log');
  assert.ok(!written.includes('PAYLOAD-SECRET-42'), 'the payload is not in the audit log');
}

describe('requestState codec', () => {
  for (const encrypt of [true, false]) {
    it(`opens what it minted for the same principal, audience and request (${encrypt ? 'AES-256-GCM' : 'HMAC'})`, async () => {
      const { codec } = codecWith({ encrypt });
      const state = codec.mint(SECRET_PAYLOAD, ALICE);
      assert.match(state, encrypt ? /^fge1\.k1\./ : /^fgs1\.k1\./);
      assert.deepEqual(await codec.open(state, ALICE), { ok: true, payload: SECRET_PAYLOAD, expiresAt: new ManualClock().now() + 600_000, keyId: 'k1' });
    });
  }

  it('refuses to mint state without a principal: binding is not optional', () => {
    const { codec } = codecWith();
    assert.throws(() => codec.mint(SECRET_PAYLOAD, { principal: '' }), /`binding.principal` must be a non-empty string/);
    assert.throws(() => codec.mint(SECRET_PAYLOAD, undefined as never), /`binding.principal` must be a non-empty string/);
  });

  it("accepts alice's state for bob with the SDK's codec left unbound, and refuses it with this codec", async () => {
    const sdkCodec = createSdkRequestStateCodec<typeof SECRET_PAYLOAD>({ key: Buffer.from(STATE_KEY, 'base64') });
    const aliceCtx = { http: { authInfo: { token: 'a', clientId: 'shared', scopes: [], extra: { sub: 'alice' } } } } as unknown as ServerContext;
    const bobCtx = { http: { authInfo: { token: 'b', clientId: 'shared', scopes: [], extra: { sub: 'bob' } } } } as unknown as ServerContext;
    const sdkState = await sdkCodec.mint(SECRET_PAYLOAD, aliceCtx);
    assert.deepEqual(await sdkCodec.verify(sdkState, bobCtx), SECRET_PAYLOAD, 'the attack works without binding');

    const { codec, audit } = codecWith();
    const state = codec.mint(SECRET_PAYLOAD, ALICE);
    assert.deepEqual(await codec.open(state, BOB), { ok: false, reason: 'principal_mismatch' });
    assert.equal(audit.events.at(-1)?.type, 'request_state_rejected');
    assert.equal(audit.events.at(-1)?.principal, 'bob');
    assertNoLeak(audit, state);
  });

  it('refuses a state for another audience or another originating request', async () => {
    const { codec } = codecWith();
    const state = codec.mint(SECRET_PAYLOAD, ALICE);
    assert.deepEqual(await codec.open(state, { ...ALICE, audience: 'https://other.example.com/mcp' }), { ok: false, reason: 'audience_mismatch' });
    assert.deepEqual(await codec.open(state, { ...ALICE, request: 'tools/call\0delete_everything' }), { ok: false, reason: 'request_mismatch' });
  });

  it('refuses a state once its time is up (injected clock)', async () => {
    const { codec, clock } = codecWith({ ttl: '5m' });
    const state = codec.mint(SECRET_PAYLOAD, ALICE);
    clock.advance('4m');
    assert.equal((await codec.open(state, ALICE)).ok, true);
    clock.advance('1m');
    assert.deepEqual(await codec.open(state, ALICE), { ok: false, reason: 'expired' });
  });

  it('rotates keys by id: the new key seals, the old still opens until it is removed', async () => {
    const clock = new ManualClock();
    const before = createRequestStateCodec({ keys: [{ id: 'k1', secret: STATE_KEY }], clock });
    const during = createRequestStateCodec({ keys: [{ id: 'k2', secret: NEXT_STATE_KEY }, { id: 'k1', secret: STATE_KEY }], clock });
    const after = createRequestStateCodec({ keys: [{ id: 'k2', secret: NEXT_STATE_KEY }], clock });
    const old = before.mint(SECRET_PAYLOAD, ALICE);
    assert.equal((await during.open(old, ALICE)).ok, true);
    const fresh = during.mint(SECRET_PAYLOAD, ALICE);
    assert.match(fresh, /^fge1\.k2\./);
    assert.equal((await after.open(fresh, ALICE)).ok, true);
    assert.deepEqual(await after.open(old, ALICE), { ok: false, reason: 'unknown_key' });
    // A key id names a key, it does not choose one: k1's state relabelled k2 does not open.
    assert.deepEqual(await during.open(old.replace('.k1.', '.k2.'), ALICE), { ok: false, reason: 'integrity' });
  });

  for (const encrypt of [true, false]) {
    it(`refuses every single-byte change of a state, and every byte added or removed (${encrypt ? 'AES-256-GCM' : 'HMAC'}, property)`, async () => {
      const { codec, audit } = codecWith({ encrypt });
      const state = codec.mint(SECRET_PAYLOAD, ALICE);
      const bytes = Buffer.from(state, 'latin1');
      await fc.assert(
        fc.asyncProperty(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), async (index, delta) => {
          const mutated = Buffer.from(bytes);
          mutated[index] = ((mutated[index] as number) + delta) % 256;
          const opened = await codec.open(mutated.toString('latin1'), ALICE);
          return !opened.ok;
        }),
        { numRuns: 400 },
      );
      await fc.assert(
        fc.asyncProperty(fc.nat({ max: bytes.length }), fc.integer({ min: 0, max: 255 }), fc.boolean(), async (index, byte, insert) => {
          const changed = insert
            ? Buffer.concat([bytes.subarray(0, index), Buffer.from([byte]), bytes.subarray(index)])
            : Buffer.concat([bytes.subarray(0, Math.min(index, bytes.length - 1)), bytes.subarray(Math.min(index, bytes.length - 1) + 1)]);
          return !(await codec.open(changed.toString('latin1'), ALICE)).ok;
        }),
        { numRuns: 200 },
      );
      assert.ok(audit.events.length >= 600, 'every refusal is audited');
      assert.ok(audit.events.every((event) => event.type === 'request_state_rejected' && typeof event.reason === 'string'));
      assertNoLeak(audit, state);
    });
  }

  it('refuses a non-canonical spelling that decodes to the same bytes (the last base64url character)', async () => {
    const { codec } = codecWith();
    const state = codec.mint(SECRET_PAYLOAD, ALICE);
    const tag = state.slice(state.lastIndexOf('.') + 1);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = tag.at(-1) as string;
    // 16 bytes as 22 characters leave 4 unused bits in the last one: 15 other spellings decode identically.
    const twins = [...alphabet].filter((c) => c !== last && Buffer.from(tag.slice(0, -1) + c, 'base64url').equals(Buffer.from(tag, 'base64url')));
    assert.equal(twins.length, 15);
    for (const twin of twins) assert.deepEqual(await codec.open(state.slice(0, -1) + twin, ALICE), { ok: false, reason: 'malformed' });
  });

  it('keeps the payload from the client when encrypting, and shows it when only signing', () => {
    const readable = (state: string) => state.split('.').some((part) => Buffer.from(part, 'base64url').toString('utf8').includes('PAYLOAD-SECRET-42'));
    assert.equal(readable(codecWith({ encrypt: true }).codec.mint(SECRET_PAYLOAD, ALICE)), false);
    assert.equal(readable(codecWith({ encrypt: false }).codec.mint(SECRET_PAYLOAD, ALICE)), true);
  });

  it('refuses a signed state where states are encrypted (no downgrade), and junk of every shape', async () => {
    const signed = codecWith({ encrypt: false }).codec.mint(SECRET_PAYLOAD, ALICE);
    const { codec } = codecWith({ encrypt: true });
    assert.deepEqual(await codec.open(signed, ALICE), { ok: false, reason: 'malformed' });
    for (const junk of [undefined, 42, {}, '', '.', 'fge1', 'fge1.k1', 'fge1.k1....', 'fge1.nope.a.b.c', 'x'.repeat(70_000)]) {
      assert.equal((await codec.open(junk, ALICE)).ok, false, String(junk).slice(0, 20));
    }
    assert.deepEqual(await codec.open('fge1.zz.AAAAAAAAAAAAAAAA.AA.AAAAAAAAAAAAAAAAAAAAAA', ALICE), { ok: false, reason: 'unknown_key' });
  });

  it('lets a state be replayed without single use, and refuses the replay with it (memory)', async () => {
    const reusable = codecWith();
    const state = reusable.codec.mint(SECRET_PAYLOAD, ALICE);
    assert.equal((await reusable.codec.open(state, ALICE)).ok, true);
    assert.equal((await reusable.codec.open(state, ALICE)).ok, true, 'the replay works without single use');

    const clock = new ManualClock();
    const single = codecWith({ replay: memoryReplayGuard({ clock }) });
    const once = single.codec.mint(SECRET_PAYLOAD, ALICE);
    assert.equal((await single.codec.open(once, ALICE)).ok, true);
    assert.deepEqual(await single.codec.open(once, ALICE), { ok: false, reason: 'replayed' });
    assert.equal(single.audit.events.at(-1)?.reason, 'replayed');
  });

  it('refuses a replay on another instance through Redis, and refuses everything while Redis is gone (fail closed)', async () => {
    const prefix = uniquePrefix('request-state');
    const clientA = createClient({ url: redisUrl() });
    const clientB = createClient({ url: redisUrl() });
    await Promise.all([clientA.connect(), clientB.connect()]);
    try {
      const clock = new ManualClock();
      const a = codecWith({ clock, replay: redisReplayGuard({ client: clientA, keyPrefix: prefix, clock }) });
      const b = codecWith({ clock, replay: redisReplayGuard({ client: clientB, keyPrefix: prefix, clock }) });
      const state = a.codec.mint(SECRET_PAYLOAD, ALICE);
      const [first, second] = await Promise.all([a.codec.open(state, ALICE), b.codec.open(state, ALICE)]);
      assert.deepEqual([first.ok, second.ok].sort(), [false, true], 'exactly one instance accepts it');
      const [used] = await clientA.keys(`${prefix}*`);
      const ttl = await clientA.pTTL(used as string);
      assert.ok(ttl > 0 && ttl <= 600_000, `the used mark lives as long as the state could (${ttl} ms)`);
      const next = a.codec.mint(SECRET_PAYLOAD, ALICE);
      await clientB.close();
      assert.deepEqual(await b.codec.open(next, ALICE), { ok: false, reason: 'replay_store_unavailable' });
    } finally {
      await clientA.close();
      if (clientB.isOpen) await clientB.close();
    }
  });

  it('rejects bad key rings with messages that name the option and never show key material', () => {
    const table: [unknown, RegExp][] = [
      [[], /`keys` must be a non-empty array/],
      [[{ id: 'bad id', secret: STATE_KEY }], /`keys\[0\]\.id` must match/],
      [[{ id: 'k1', secret: STATE_KEY }, { id: 'k1', secret: NEXT_STATE_KEY }], /has the id "k1" twice/],
      [[{ id: 'k1', secret: 'c2hvcnQ=' }], /`keys\[0\]\.secret` \(id "k1"\) must decode to at least 32 bytes; got 5/],
    ];
    for (const [keys, message] of table) {
      assert.throws(() => createRequestStateCodec({ keys: keys as never }), (err: Error) => message.test(err.message) && !err.message.includes('c2hvcnQ'));
    }
  });
});
