import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import cookieSignature from 'cookie-signature';
import { knownSecrets, scanForSecrets } from '../../scripts/secrets-scan.js';
import { Auditor, memorySink } from '../../src/index.js';
import { randomSessionId } from '../../src/util/random.js';
import { SECRET } from '../helpers.js';

describe('the secrets scan that npm test runs over its own output', () => {
  const id = randomBytes(24).toString('base64url');

  it('finds a raw session id, a signed cookie, a bearer token, a JWT and a test secret', () => {
    const secrets = knownSecrets(['test']);
    assert.ok(secrets.includes(SECRET), 'the helpers\' secret is known to the scan');
    const output = [
      `warning: session ${id} expired`,
      `Set-Cookie: sid=s%3A${cookieSignature.sign(id, SECRET).replace('s:', '')}`,
      'Authorization: Bearer demo-token-alice-0123456789',
      'token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln',
      `config ${SECRET}`,
    ].join('\n');
    const kinds = scanForSecrets(output, secrets).map((f) => f.kind);
    for (const kind of ['raw session id', 'signed session cookie', 'bearer token', 'JWT', 'test secret']) assert.ok(kinds.includes(kind), `${kind} not found in ${JSON.stringify(kinds)}`);
    assert.ok(!scanForSecrets(output, secrets).some((f) => f.excerpt.includes(id)), 'its report never repeats a whole id');
  });

  it("finds the guard's own ids (43 characters) and longer ones, as well as express-session's 32", () => {
    for (let i = 0; i < 20; i++) {
      for (const raw of [randomSessionId(), `${randomSessionId()}${randomSessionId()}`]) {
        assert.ok(scanForSecrets(`warning: session ${raw} expired`, []).some((f) => f.kind === 'raw session id'), `not found: an id of ${raw.length} characters`);
      }
    }
  });

  it('passes what the library does write: audit hashes, chain links, test titles', () => {
    const sink = memorySink();
    new Auditor({ sinks: [sink], hashSecret: SECRET }).emit('login', { sessionId: id, principal: 'alice' });
    const output = [JSON.stringify(sink.events), `prev ${'a1'.repeat(32)}`, '✔ a session ends 4h after login however active it is (12ms)'].join('\n');
    assert.deepEqual(scanForSecrets(output, knownSecrets(['test'])), []);
  });
});
