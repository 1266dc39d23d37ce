/**
 * What the guard keeps for the whole of a request is made of class instances, never object
 * literals. V8 tracks where each object literal is allocated and, when most objects of one
 * site outlive a young-generation collection, allocates that site's next objects directly in
 * the old generation; a dead one there holds its young session and strings through every young
 * collection until a full one. Express keeps request objects alive through young collections,
 * so as literals these were moved out (in-process hot path: 18.2 KB surviving per request
 * against 13.1 KB as classes, see the README's benchmark analysis). Benchmarks measure the
 * cost; this test keeps the shape.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Request } from 'express';
import { readSessionCookie } from '../../src/cookie/index.js';
import { requestStateOf } from '../../src/guard/request-state.js';
import { guardState, stateOf, type GuardState } from '../../src/policy/state.js';
import { SECRET, buildApp, https, login, request, signedCookie } from '../helpers.js';

function literal(value: unknown): boolean {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

describe('objects that live as long as a request', () => {
  it('are class instances: the request state, its baseline, the decoded guard state, the encoded form of a changed state, the cookie reading', async () => {
    const seen: Record<string, unknown> = {};
    const { app } = buildApp({}, (a) => {
      a.get('/inspect', (req: Request, res) => {
        const state = requestStateOf(req);
        seen.state = state;
        seen.baseline = state?.baseline;
        const guard = stateOf(req.session as unknown as Record<string, unknown>);
        seen.guard = guard;
        // A loaded state answers with the record's own (parsed) form; one that changed is encoded.
        seen.encoded = (guardState({ ...(guard as GuardState), lastSeenAt: (guard as GuardState).lastSeenAt + 1 }) as unknown as { toJSON(): unknown }).toJSON();
        seen.reading = readSessionCookie(req.headers.cookie, '__Host-sid', [SECRET]);
        res.json({});
      });
    });
    const cookie = await login(app, 'alice');
    await https(request(app).get('/inspect')).set('Cookie', cookie).expect(200);
    for (const name of ['state', 'baseline', 'guard', 'encoded', 'reading']) {
      assert.ok(seen[name], `${name} was read`);
      assert.equal(literal(seen[name]), false, `${name} is not an object literal`);
    }
    // The reading of a cookie that does not verify, and of one without a signature, too.
    assert.equal(literal(readSessionCookie(signedCookie('forged', '__Host-sid', 'another-secret-of-enough-length-0000'), '__Host-sid', [SECRET])), false);
    assert.equal(literal(readSessionCookie('__Host-sid=plain', '__Host-sid', [SECRET])), false);
  });
});
