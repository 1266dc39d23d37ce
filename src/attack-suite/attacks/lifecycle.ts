import { idHash, type SessionCookie } from '../cookies.js';
import { formatDuration, NotApplicable, type AttackContext, type Exchange } from '../context.js';
import { CS, fail, notApplicable, pass, standard, type AttackDefinition, type Verdict } from './define.js';

export const logoutKillsSession: AttackDefinition = {
  id: 'logout-kills-session',
  title: 'Logout ends the session on the server, not just in the browser.',
  method: 'Captures a logged-in cookie, logs out, and replays the captured cookie on the protected path.',
  standard: standard(['3.3.1'], ['7.4.1'], [CS.manualExpiration]),
  needs: ['logout'],
  class: 'fixation',
  severity: 'high',
  async run(ctx) {
    const { logoutPath, logoutMethod, protectedPath } = ctx.options;
    const { after: victim } = await ctx.loggedIn('victim');
    const out = await ctx.logout('victim logs out', victim);
    const replay = await ctx.authenticated('attacker replays the cookie captured before logout', victim);
    if (replay.ok) {
      const cleared = out.cleared ? ', which cleared the cookie in the browser only' : '';
      return fail(`After ${logoutMethod} ${logoutPath} (${out.response.status}${cleared}), the captured cookie still opens ${protectedPath} (${replay.status}).`);
    }
    return pass(`After ${logoutMethod} ${logoutPath} (${out.response.status}) the captured cookie ${idHash(victim.id)} no longer opens ${protectedPath} (${replay.status}).`);
  },
};

export const logoutAllKillsSessions: AttackDefinition = {
  id: 'logout-all-kills-sessions',
  title: 'Logging out everywhere ends every session of the user.',
  method: 'Logs the same user in twice (two devices), logs out everywhere from the first, and replays both cookies.',
  standard: standard(['3.3.4'], ['7.4.1', '7.5.2'], [CS.manualExpiration]),
  needs: ['logoutAll'],
  class: 'hardening',
  severity: 'medium',
  async run(ctx) {
    const { logoutAllPath, protectedPath } = ctx.options;
    if (!logoutAllPath) throw new NotApplicable(`no log-out-everywhere route to attack: pass ${ctx.options.name('logoutAllPath')} to check it`);
    const { after: first } = await ctx.loggedIn('user on a first device');
    const { after: second } = await ctx.loggedIn('user on a second device');
    const out = await ctx.logoutAll('user logs out everywhere from the first device', first);
    const still: string[] = [];
    for (const [device, cookie] of [
      ['first', first],
      ['second', second],
    ] as const) {
      const replay = await ctx.authenticated(`the ${device} device's cookie is replayed`, cookie);
      if (replay.ok) still.push(`the ${device} device's session ${idHash(cookie.id)} (${replay.status})`);
    }
    if (still.length > 0) return fail(`After POST ${logoutAllPath} (${out.response.status}) ${still.join(' and ')} still opens ${protectedPath}.`);
    return pass(`After POST ${logoutAllPath} (${out.response.status}) neither device's session opens ${protectedPath}.`);
  },
};

/**
 * Holds a session-writing request open on `cookie` (its body withheld, so the app has loaded
 * the session and waits), runs `meanwhile`, then lets the request finish late.
 */
async function withRequestInFlight<T>(
  ctx: AttackContext,
  cookie: SessionCookie,
  meanwhile: () => Promise<T>,
): Promise<{ held: boolean; result: T; late: Exchange }> {
  const request = ctx.hold(`a request on ${idHash(cookie.id)} is in flight (its body withheld)`, { method: 'GET', path: ctx.options.startPath, cookies: [cookie] });
  const accepted = await request.accepted;
  if (accepted === 'timeout') ctx.note('the server sent no 100 Continue within 2 s; the request was held anyway');
  let result: T;
  try {
    result = await meanwhile();
  } catch (err) {
    // Let the held request finish, so no request of the suite is left open on the server.
    await request.done().catch(() => undefined);
    throw err;
  }
  const late = await request.done();
  return { held: accepted !== 'response', result, late };
}

const lateFreshIdNote =
  'the late request was answered with a fresh id: either the app reads the body before it loads the session (then this race was not provoked; mount body parsers after the session middleware to test it), or it noticed the id had ended';

async function lateSaveAfterLogout(ctx: AttackContext): Promise<Verdict> {
  const { protectedPath } = ctx.options;
  const { after: victim } = await ctx.loggedIn('victim');
  const run = await withRequestInFlight(ctx, victim, async () => {
    await ctx.logout('victim logs out meanwhile', victim);
    return ctx.authenticated('the cookie is checked while the request is still in flight', victim);
  });
  if (!run.held) return notApplicable(`the server answered GET ${ctx.options.startPath} before reading its body, so no request could be held open across the logout`);
  if (run.result.ok) return notApplicable('logout alone did not end the session (see logout-kills-session)');
  const replay = await ctx.authenticated('attacker replays the logged-out cookie after the late request', victim);
  if (replay.ok) {
    return fail(`A request that was in flight during logout saved the session back: the logged-out id ${idHash(victim.id)} opens ${protectedPath} again (${replay.status}).`);
  }
  const minted = run.late.issued;
  if (minted && minted.id !== victim.id) {
    const check = await ctx.authenticated('the cookie the late request set is tried', minted);
    if (check.ok) return fail(`A request that was in flight during logout answered with a new logged-in id ${idHash(minted.id)}.`);
    ctx.note(lateFreshIdNote);
  }
  return pass('logout: the late request did not bring the logged-out session back');
}

async function lateSaveAfterLogin(ctx: AttackContext): Promise<Verdict> {
  if (!ctx.facts.anonymousSessions) return notApplicable('the app creates no pre-login session');
  const before = await ctx.anonymous('victim visits the site');
  const run = await withRequestInFlight(ctx, before, async () => {
    const login = await ctx.login('victim logs in meanwhile', before);
    if (!login.cookie || login.cookie.id === before.id) return { rotated: false, alive: undefined };
    return { rotated: true, alive: await ctx.alive('the pre-login id is checked while the request is still in flight', before) };
  });
  if (!run.held) return notApplicable(`the server answered GET ${ctx.options.startPath} before reading its body, so no request could be held open across the login`);
  if (!run.result.rotated) return notApplicable('login kept the pre-login id, so there is no rotated id to resurrect (see login-sets-new-id)');
  if (run.result.alive === undefined) return notApplicable(ctx.facts.aliveCheck.usable ? 'the alive check was not usable' : ctx.facts.aliveCheck.why);
  if (run.result.alive) return notApplicable('the pre-login id survived login on its own (see pre-login-id-dead)');
  if (run.late.issued && run.late.issued.id !== before.id) ctx.note(lateFreshIdNote);
  const auth = await ctx.authenticated('attacker replays the pre-login cookie after the late request', before);
  if (auth.ok) return fail(`A request that was in flight during login made the pre-login id ${idHash(before.id)} a logged-in session.`);
  if (await ctx.alive('the pre-login id is replayed after the late request', before)) {
    return fail(`A request that was in flight during login saved the rotated pre-login id ${idHash(before.id)} back: the server accepts it again.`);
  }
  return pass('login: the late request did not bring the rotated pre-login id back');
}

export const inflightNoResurrection: AttackDefinition = {
  id: 'inflight-no-resurrection',
  title: 'A request in flight on an id that is rotated or logged out cannot bring it back.',
  method:
    'Opens a session-writing request and withholds its body (Expect: 100-continue) so the app has loaded the session; meanwhile logs out (or logs in, rotating the id); then lets the request finish and replays the old id. The race is provoked when the app loads the session before reading the body.',
  standard: standard(['3.3.1', '3.2.1'], ['7.2.4', '7.4.1'], [CS.renew, CS.manualExpiration]),
  needs: ['logout'],
  class: 'hardening',
  severity: 'medium',
  async run(ctx) {
    const phases = [await lateSaveAfterLogout(ctx), await lateSaveAfterLogin(ctx)];
    const failed = phases.filter((p) => p.outcome === 'fail');
    if (failed.length > 0) return fail(failed.map((p) => p.reason).join(' '));
    for (const phase of phases) if (phase.outcome === 'not-applicable') ctx.note(`not checked: ${phase.reason}`);
    const passed = phases.filter((p) => p.outcome === 'pass');
    if (passed.length === 0) return notApplicable(phases.map((p) => p.reason).join('; '));
    return pass(`${passed.map((p) => p.reason).join('; ')}.`);
  },
};

export const idleTimeout: AttackDefinition = {
  id: 'idle-timeout',
  title: 'An idle session expires after the idle timeout.',
  method: 'Logs in, moves the app\'s test clock past the idle timeout (30 min by default) and replays the cookie.',
  standard: standard(['3.3.2'], ['7.3.1'], [CS.idle]),
  class: 'hardening',
  severity: 'medium',
  async run(ctx) {
    ctx.requireClock();
    const { idleTimeoutMs, protectedPath } = ctx.options;
    const { after: user } = await ctx.loggedIn('user');
    const idle = idleTimeoutMs + 60_000;
    await ctx.advanceClock(idle, `the user stays idle for ${formatDuration(idle)}`);
    const replay = await ctx.authenticated('the idle session is used again', user);
    if (replay.ok) {
      return fail(`The session still opens ${protectedPath} after ${formatDuration(idle)} of inactivity (idle timeout ${formatDuration(idleTimeoutMs)}).`);
    }
    return pass(`After ${formatDuration(idle)} of inactivity the session no longer opens ${protectedPath} (${replay.status}).`);
  },
};

export const absoluteTimeout: AttackDefinition = {
  id: 'absolute-timeout',
  title: 'A session expires after the absolute timeout even while in use.',
  method: 'Logs in and keeps the session busy (a request every half idle timeout, moving the test clock) until past the absolute timeout (4 h by default).',
  standard: standard(['3.3.2'], ['7.3.2'], [CS.absolute]),
  class: 'hardening',
  severity: 'low',
  async run(ctx) {
    ctx.requireClock();
    const { idleTimeoutMs, absoluteTimeoutMs, protectedPath } = ctx.options;
    let { after: cookie } = await ctx.loggedIn('user');
    const step = Math.max(1_000, Math.floor(Math.min(idleTimeoutMs, absoluteTimeoutMs) / 2));
    const end = absoluteTimeoutMs + 60_000;
    let elapsed = 0;
    ctx.note(`the test clock moves in steps of ${formatDuration(step)}, each followed by a request`);
    while (elapsed < end) {
      const move = Math.min(step, end - elapsed);
      elapsed += move;
      await ctx.advanceClock(move, `the user keeps working (+${formatDuration(elapsed)})`, { quiet: true });
      const check = await ctx.authenticated(`the user is active at +${formatDuration(elapsed)}`, cookie);
      if (!check.ok) {
        if (elapsed === move) {
          return notApplicable(
            `the session ended at the first step (+${formatDuration(elapsed)}) although it was in use, so the app's idle timeout is probably shorter than ${ctx.options.name('idleTimeout')} (${formatDuration(idleTimeoutMs)}); the absolute timeout could not be observed`,
          );
        }
        return pass(`The session, kept in use, ended at +${formatDuration(elapsed)} (absolute timeout ${formatDuration(absoluteTimeoutMs)}).`);
      }
      cookie = check.cookie;
    }
    return fail(`The session, kept in use every ${formatDuration(step)}, still opens ${protectedPath} at +${formatDuration(elapsed)} (absolute timeout ${formatDuration(absoluteTimeoutMs)}).`);
  },
};
