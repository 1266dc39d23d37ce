/**
 * The one-step login and the stepwise login agree. The same random sequence of
 * visits, logins (re-logins, switches of user), elevations, logouts and logouts everywhere runs
 * against four guards: the default MemoryStore (one step), a MemoryStore with a separate
 * MemorySessionIndex (steps), one Redis `deployment` (one script) and one Redis `spread` (steps),
 * each under the same `maxSessionsPerUser` / `onSessionLimit`. After every command, every
 * device's answer, every device's /me and each user's listSessions must be the same on all four.
 * `FG_MODEL_RUNS` / `FG_MODEL_SEED` (as for the lifecycle model) run it longer or otherwise.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { https, loginWith, me, post, request, setCookie, type TestApp } from '../helpers.js';
import { loginPaths } from '../support/login-paths.js';

const DEVICES = 3;
const USERS = ['u1', 'u2'] as const;
type Cmd =
  | { kind: 'visit'; d: number }
  | { kind: 'login'; d: number; u: string }
  | { kind: 'elevate'; d: number }
  | { kind: 'logout'; d: number }
  | { kind: 'logoutAll'; d: number }
  | { kind: 'tick' };

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({ kind: fc.constant('visit' as const), d: fc.nat(DEVICES - 1) }),
  fc.record({ kind: fc.constant('login' as const), d: fc.nat(DEVICES - 1), u: fc.constantFrom(...USERS, 'u1') }),
  fc.record({ kind: fc.constant('login' as const), d: fc.nat(DEVICES - 1), u: fc.constantFrom(...USERS, 'u1') }),
  fc.record({ kind: fc.constant('elevate' as const), d: fc.nat(DEVICES - 1) }),
  fc.record({ kind: fc.constant('logout' as const), d: fc.nat(DEVICES - 1) }),
  fc.record({ kind: fc.constant('logoutAll' as const), d: fc.nat(DEVICES - 1) }),
  fc.constant({ kind: 'tick' as const }),
);

const paths = loginPaths('paths-agree');

async function systems(limit: { max: number; onLimit: 'evictOldest' | 'rejectLogin' }): Promise<Array<{ name: string; t: TestApp }>> {
  return (await paths({ maxSessionsPerUser: limit.max, onSessionLimit: limit.onLimit })).map(([name, t]) => ({ name, t }));
}

interface World {
  t: TestApp;
  cookies: Array<string | undefined>;
}

async function run(w: World, c: Cmd): Promise<string> {
  const app = w.t.app;
  if (c.kind === 'tick') {
    w.t.clock.advance(1000);
    return 'tick';
  }
  const cookie = w.cookies[c.d];
  let res;
  if (c.kind === 'visit') {
    const test = https(request(app).get('/'));
    res = await (cookie ? test.set('Cookie', cookie) : test);
  } else if (c.kind === 'login') res = await loginWith(app, cookie, c.u);
  else if (c.kind === 'elevate') res = await https(post(app, '/elevate', cookie));
  else if (c.kind === 'logout') res = await https(post(app, '/logout', cookie));
  else res = await https(post(app, '/logout-all', cookie));
  const set = setCookie(res);
  const cleared = (res.headers['set-cookie'] as unknown as string[] | undefined)?.some((l) => l.startsWith('__Host-sid=;'));
  if (set) w.cookies[c.d] = set;
  else if (cleared) w.cookies[c.d] = undefined;
  return `${res.status}${res.body?.error?.code ? ' ' + res.body.error.code : ''}${typeof res.body?.ended === 'number' ? ' ended=' + res.body.ended : ''}`;
}

async function observe(w: World): Promise<string> {
  const parts: string[] = [];
  for (let d = 0; d < DEVICES; d++) {
    const cookie = w.cookies[d];
    if (!cookie) {
      parts.push(`d${d}:none`);
      continue;
    }
    const res = await me(w.t.app, cookie);
    parts.push(`d${d}:${res.status === 200 ? res.body.user + (res.body.privilege ? '+' : '') : res.body?.error?.code}`);
  }
  for (const u of USERS) parts.push(`${u}:${(await w.t.guard.listSessions(u)).length}`);
  return parts.join(' ');
}

describe('one-step and stepwise logins agree (model)', () => {
  let counter = 0;
  it('same answers, same live sessions, same listings on all four paths', async () => {
    await fc.assert(
      fc.asyncProperty(fc.record({ max: fc.integer({ min: 1, max: 2 }), onLimit: fc.constantFrom('evictOldest' as const, 'rejectLogin' as const) }), fc.array(cmd, { minLength: 4, maxLength: 14 }), async (limit, cmds) => {
        counter++;
        const worlds: Array<World & { name: string }> = (await systems(limit)).map(({ name, t }) => ({ name, t, cookies: new Array(DEVICES).fill(undefined) }));
        const trace: string[] = [];
        for (const c of cmds) {
          const answers = await Promise.all(worlds.map((w) => run(w, c)));
          const seen = await Promise.all(worlds.map((w) => observe(w)));
          trace.push(`${JSON.stringify(c)} -> ${answers[0]} | ${seen[0]}`);
          for (let i = 1; i < worlds.length; i++) {
            assert.equal(
              `${answers[i]} | ${seen[i]}`,
              `${answers[0]} | ${seen[0]}`,
              `${worlds[i]!.name} disagrees with ${worlds[0]!.name} (limit ${JSON.stringify(limit)}):\n${trace.join('\n')}`,
            );
          }
        }
      }),
      { numRuns: Number(process.env.FG_MODEL_RUNS ?? 40), seed: Number(process.env.FG_MODEL_SEED ?? 4242) },
    );
    assert.ok(counter > 0);
  });
});
