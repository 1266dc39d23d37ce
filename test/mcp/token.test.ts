import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { ManualClock } from '../../src/clock/index.js';
import { readSessionToken, SessionTokenSigner, type SessionTokenPayload } from '../../src/mcp/index.js';

function payload(clock: ManualClock, overrides: Partial<SessionTokenPayload> = {}): SessionTokenPayload {
  return { v: 1, sid: 'session-1', sub: 'alice', iat: clock.now(), exp: clock.now() + 60_000, fp: 'fp', gen: 1, ...overrides };
}

describe('SessionTokenSigner', () => {
  const clock = new ManualClock();
  const current = randomBytes(32);
  const previous = randomBytes(32);

  it('verifies a token it signed and returns the payload', () => {
    const signer = new SessionTokenSigner([current], clock);
    const result = signer.verify(signer.sign(payload(clock)));
    assert.deepEqual(result, { ok: true, payload: payload(clock) });
  });

  it('signs with the first key and still verifies tokens of the older keys during a rotation', () => {
    const before = new SessionTokenSigner([previous], clock);
    const rotating = new SessionTokenSigner([current, previous], clock);
    const after = new SessionTokenSigner([current], clock);
    const old = before.sign(payload(clock));
    assert.equal(rotating.verify(old).ok, true);
    assert.equal(after.verify(rotating.sign(payload(clock))).ok, true);
    assert.deepEqual(after.verify(old), { ok: false, reason: 'signature' });
  });

  it('rejects a token whose payload or signature was changed by a single character', () => {
    const signer = new SessionTokenSigner([current], clock);
    const token = signer.sign(payload(clock));
    const [body, signature] = token.split('.') as [string, string];
    const flip = (text: string, at: number) => text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1);
    assert.deepEqual(signer.verify(`${flip(body, 3)}.${signature}`), { ok: false, reason: 'signature' });
    assert.deepEqual(signer.verify(`${body}.${flip(signature, 5)}`), { ok: false, reason: 'signature' });
  });

  it('refuses non-canonical base64url: the signature’s last character with other unused low bits', () => {
    const signer = new SessionTokenSigner([current], clock);
    const token = signer.sign(payload(clock));
    const [body, signature] = token.split('.') as [string, string];
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(signature.at(-1) as string);
    // 43 characters carry 258 bits for 256: the last character's two low bits are ignored by the decoder.
    const aliases = [1, 2, 3].map((low) => `${body}.${signature.slice(0, -1)}${alphabet[(last & ~3) | ((last + low) & 3)]}`);
    for (const alias of aliases) {
      assert.ok(Buffer.from(alias.split('.')[1] as string, 'base64url').equals(Buffer.from(signature, 'base64url')), 'an alias decodes to the same bytes');
      assert.deepEqual(signer.verify(alias), { ok: false, reason: 'malformed' });
    }
    assert.equal(signer.verify(token).ok, true);
  });

  it('keeps fields apart: a principal containing a colon cannot pose as another session', () => {
    const signer = new SessionTokenSigner([current], clock);
    const token = signer.sign(payload(clock, { sub: 'alice:session-2', sid: 'x' }));
    const result = signer.verify(token);
    assert.ok(result.ok);
    assert.equal(result.payload.sid, 'x');
    assert.equal(result.payload.sub, 'alice:session-2');
  });

  it('reports an expired token as expired once its exp has passed on the injected clock', () => {
    const local = new ManualClock();
    const signer = new SessionTokenSigner([current], local);
    const token = signer.sign(payload(local));
    local.advance('59s');
    assert.equal(signer.verify(token).ok, true);
    local.advance('1s');
    assert.equal(signer.verify(token).ok === false && (signer.verify(token) as { reason: string }).reason, 'expired');
  });

  it('rejects malformed tokens without throwing', () => {
    const signer = new SessionTokenSigner([current], clock);
    for (const bad of ['', '.', 'abc', 'a.b', `${'a'.repeat(5000)}.x`, 'e30.' + 'A'.repeat(43), '!!.' + 'A'.repeat(43)]) {
      const result = signer.verify(bad);
      assert.equal(result.ok, false, bad.slice(0, 20));
    }
  });

  it('refuses to be built without keys', () => {
    assert.throws(() => new SessionTokenSigner([]), { name: 'TypeError', message: 'SessionTokenSigner: `keys` must be a non-empty array of Buffers' });
  });
});

describe('readSessionToken', () => {
  it('reads X-Session-Token first, then Authorization: Session, and ignores a Bearer', () => {
    assert.equal(readSessionToken({ 'x-session-token': 'a.b', authorization: 'Session c.d' }), 'a.b');
    assert.equal(readSessionToken({ authorization: 'Session c.d' }), 'c.d');
    assert.equal(readSessionToken({ authorization: 'session   c.d ' }), 'c.d');
    assert.equal(readSessionToken({ authorization: 'Bearer c.d' }), undefined);
    assert.equal(readSessionToken({}), undefined);
  });
});
