/**
 * "Log out everywhere" racing a re-login and an
 * elevation of the same user's other sessions, on the four paths. When it answers 200, no
 * session that existed when it started lives on, nor any successor a rotation in flight gave one.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { anonymousCookie, https, loginWith, me, post, setCookie } from '../helpers.js';
import { loginPaths } from '../support/login-paths.js';

const systems = loginPaths('logout-everywhere-race');

describe('logoutEverywhere racing a re-login and an elevation', () => {
  it('leaves nothing of the sessions that existed (nor their successors) when it answers 200', async () => {
    for (const [name, { app }] of await systems({ maxSessionsPerUser: 5 })) {
      for (let trial = 0; trial < 25; trial++) {
        const user = `racer${trial}`;
        const s = [];
        for (let i = 0; i < 3; i++) s.push(setCookie(await loginWith(app, await anonymousCookie(app), user).expect(200)) as string);
        const [all, relogin, elevate] = await Promise.all([
          https(post(app, '/logout-all', s[0])),
          loginWith(app, s[1], user),
          https(post(app, '/elevate', s[2])),
        ]);
        if (all.status !== 200) continue;
        const survivors: string[] = [];
        for (const [what, c] of [['s0', s[0]], ['s1', s[1]], ['s2', s[2]], ['relogin', setCookie(relogin)], ['elevated', setCookie(elevate)]] as const) {
          if (c && (await me(app, c)).status === 200) survivors.push(`${what}(${what === 'relogin' ? relogin.status : what === 'elevated' ? elevate.status : ''})`);
        }
        assert.deepEqual(survivors, [], `${name}, trial ${trial}: alive after logoutEverywhere answered 200`);
      }
    }
  });
});
