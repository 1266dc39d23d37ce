/**
 * Concurrent logins of one user on the four paths never
 * leave more than `maxSessionsPerUser` live sessions; under rejectLogin exactly `max` are admitted.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { anonymousCookie, loginWith, me, setCookie } from '../helpers.js';
import { loginPaths } from '../support/login-paths.js';

const systems = loginPaths('concurrent-limits');

for (const onLimit of ['evictOldest', 'rejectLogin'] as const) {
  describe(`20 concurrent logins, max 3, ${onLimit}`, () => {
    it('never more than 3 live sessions; rejectLogin admits exactly 3; evictOldest admits all', async () => {
      for (const [name, { app }] of await systems({ maxSessionsPerUser: 3, onSessionLimit: onLimit })) {
        const anons = await Promise.all(Array.from({ length: 20 }, () => anonymousCookie(app)));
        const results = await Promise.all(anons.map((c) => loginWith(app, c, 'zed')));
        const ok = results.filter((r) => r.status === 200);
        const statuses = results.map((r) => r.status).sort().join(',');
        if (onLimit === 'rejectLogin') assert.equal(ok.length, 3, `${name}: ${statuses}`);
        else assert.equal(ok.length, 20, `${name}: ${statuses}`);
        let live = 0;
        for (const r of ok) if ((await me(app, setCookie(r) as string)).status === 200) live++;
        assert.equal(live, 3, `${name}: ${live} live sessions`);
      }
    });
  });
}
