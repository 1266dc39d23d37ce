import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLoginApp } from '../../examples/shared/login-app.js';
import { request } from '../helpers.js';

/** Names every plain object answers to: looked up in `{}`, they find a prototype member, not a user. */
const PROTOTYPE_NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '__defineGetter__'];

describe('the example login app', () => {
  it('answers 200 and sets a session cookie for a good login (alice / alice-password)', async () => {
    const { app } = createLoginApp();
    const res = await request(app).post('/login').send({ username: 'alice', password: 'alice-password' }).expect(200);
    assert.deepEqual(res.body, { user: 'alice' });
    assert.ok((res.headers['set-cookie'] as unknown as string[] | undefined)?.some((line) => line.startsWith('sid=')));
  });

  it('answers 401 for a wrong password and for an unknown user', async () => {
    const { app } = createLoginApp();
    await request(app).post('/login').send({ username: 'alice', password: 'bob-password' }).expect(401);
    await request(app).post('/login').send({ username: 'mallory', password: 'x' }).expect(401);
  });

  for (const username of PROTOTYPE_NAMES) {
    it(`answers 401 BAD_CREDENTIALS for the username ${JSON.stringify(username)}, like any unknown user (not 500)`, async () => {
      const { app } = createLoginApp();
      const res = await request(app).post('/login').send({ username, password: 'x' }).expect(401);
      assert.equal(res.body.error.code, 'BAD_CREDENTIALS');
    });
  }

  it('answers 401 for a username that names a prototype member with the matching "password"', async () => {
    const { app } = createLoginApp();
    await request(app).post('/login').send({ username: 'toString', password: String(Object.prototype.toString) }).expect(401);
  });

  it('answers 400 or 401, never 500, for a username or password that is not a string', async () => {
    const { app } = createLoginApp();
    const bodies: unknown[] = [
      { username: 42, password: 'alice-password' },
      { username: ['alice'], password: 'alice-password' },
      { username: { toString: 'alice' }, password: 'alice-password' },
      { username: null, password: 'alice-password' },
      { username: 'alice', password: 12345 },
      { username: 'alice', password: ['alice-password'] },
      { username: 'alice', password: { length: 14 } },
      { username: 'alice' },
      {},
      [],
      'alice',
    ];
    for (const body of bodies) {
      const res = await request(app).post('/login').set('Content-Type', 'application/json').send(JSON.stringify(body));
      assert.ok(res.status === 400 || res.status === 401, `${JSON.stringify(body)} → ${res.status}`);
    }
  });
});
