/**
 * A refused passport-style login (regenerate, set passport.user, save) leaves the request a fresh
 * anonymous session that is saved only if the app writes to it: an app that writes nothing
 * stores no record and gets no cookie of it. Before, express-session's end saved it anyway (its id
 * is neither the one express-session loaded nor the one it generated, so it counted as
 * modified), and the 409 set its cookie after clearing the old one.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemorySessionIndex } from '../../src/index.js';
import { anonymousCookie, buildApp, https, login, request, regeneratedLoginRoute } from '../helpers.js';
import { HoldStore } from '../support/hold-store.js';

const live = (store: HoldStore) => [...store.map.values()].filter((json) => !json.includes('fixationGuardTombstone')).length;

describe('the fresh session a refused regenerated login leaves', () => {
  it('is not saved, and no cookie of it is sent, when the app writes nothing to it', async () => {
    const store = new HoldStore();
    const { app } = buildApp({ store, index: new MemorySessionIndex(), maxSessionsPerUser: 1, onSessionLimit: 'rejectLogin' }, (a) => regeneratedLoginRoute(a));
    await login(app, 'erin');
    const anon = await anonymousCookie(app);
    const before = live(store);
    const res = await https(request(app).post('/passport-login')).set('Cookie', anon).send({ username: 'erin' });
    assert.equal(res.status, 409);
    const sent = ((res.headers['set-cookie'] as unknown as string[] | undefined) ?? []).filter((c) => !/^[^=]+=;/.test(c));
    // The anonymous session presented was ended by the regenerate: one live record fewer, none more.
    assert.equal(live(store), before - 1, `records live: ${before} before, ${live(store)} after (a fresh anonymous record was saved)`);
    assert.equal(sent.length, 0, `the refusal sent ${sent.length} non-clearing session cookie(s)`);
  });
});
