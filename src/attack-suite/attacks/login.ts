import { randomBytes } from 'node:crypto';
import { idHash, type SessionCookie } from '../cookies.js';
import { NotApplicable, type AttackContext } from '../context.js';
import { CS, fail, notApplicable, pass, standard, type AttackDefinition } from './define.js';

/** A pre-login id, then a login that carries it; NotApplicable if that login is refused. */
async function logInWithPreLoginId(ctx: AttackContext, visit: string, login: string) {
  const before = await ctx.anonymous(visit);
  const after = await ctx.login(login, before);
  if (after.response.status >= 400) throw new NotApplicable(`the login answered ${after.response.status}`);
  // `carried`: the id the login request carried (a login page may have replaced the visit's id).
  return { before, carried: after.before ?? before, login: after };
}

/** The classic attack: the attacker's pre-login id is planted in the victim's browser. */
export const plantedIdSurvivesLogin: AttackDefinition = {
  id: 'planted-id-survives-login',
  title: 'A session id planted before login does not become authenticated at login.',
  method:
    'The attacker takes a pre-login cookie, the victim logs in carrying it (as after cookie tossing or XSS), then the attacker replays it on the protected path.',
  standard: standard(['3.2.1'], ['7.2.4'], [CS.renew]),
  class: 'fixation',
  severity: 'critical',
  core: true,
  async run(ctx) {
    const { before: planted } = await logInWithPreLoginId(ctx, 'attacker visits the site and keeps the pre-login cookie', 'victim logs in carrying the planted cookie');
    const attacker = await ctx.authenticated('attacker replays the planted cookie', planted);
    if (attacker.ok) {
      return fail(
        `The planted pre-login id ${idHash(planted.id)} was authenticated by the victim's login: the attacker's copy opens ${ctx.options.protectedPath} (${attacker.status}).`,
      );
    }
    return pass(`The planted id ${idHash(planted.id)} stayed unauthenticated after the victim logged in (${ctx.options.protectedPath} → ${attacker.status}).`);
  },
};

/**
 * A planted id that is already logged in: the attacker logs in to their own account and plants
 * that cookie (cookie tossing, XSS); an app that rotates only an anonymous session at login
 * ("switch account" on the same id) hands the victim's login to the attacker's copy.
 */
export const loggedInIdSurvivesLogin: AttackDefinition = {
  id: 'logged-in-id-survives-login',
  title: 'A session id that is already logged in does not survive another login.',
  method:
    'Logs in, then logs in again carrying that logged-in cookie (as when an attacker plants the cookie of their own session in the victim\'s browser): the second login must set a new id, and the first id must no longer open the protected path.',
  standard: standard(['3.2.1'], ['7.2.4'], [CS.renew]),
  class: 'fixation',
  severity: 'critical',
  async run(ctx) {
    const { after: planted } = await ctx.loggedIn('attacker');
    const login = await ctx.login('victim logs in carrying the attacker\'s logged-in cookie', planted);
    if (login.response.status >= 400) return notApplicable(`a login carrying a logged-in cookie answered ${login.response.status}: the app refuses it`);
    const kept = !login.issued || login.issued.id === planted.id;
    const attacker = await ctx.authenticated('attacker replays the planted cookie', planted);
    if (attacker.ok) {
      return fail(
        `The logged-in id ${idHash(planted.id)} carried into a second login still opens ${ctx.options.protectedPath} (${attacker.status})${kept ? ', and the login kept it as the session id' : ''}: an attacker who plants their own logged-in cookie gets the victim's session.`,
      );
    }
    if (kept) return fail(`The second login kept the id ${idHash(planted.id)} instead of setting a new one.`);
    return pass(`The second login replaced ${idHash(planted.id)} with ${idHash((login.issued as SessionCookie).id)}, and the planted id no longer opens ${ctx.options.protectedPath} (${attacker.status}).`);
  },
};

export const loginSetsNewId: AttackDefinition = {
  id: 'login-sets-new-id',
  title: 'The login response sets a new session id.',
  method: 'Logs in carrying a pre-login cookie and compares the id in the login response\'s Set-Cookie with it.',
  standard: standard(['3.2.1'], ['7.2.4'], [CS.renew]),
  class: 'fixation',
  severity: 'high',
  core: true,
  async run(ctx) {
    const { carried: before, login } = await logInWithPreLoginId(ctx, 'user visits the site', 'user logs in with the pre-login cookie');
    if (!login.issued) {
      return fail(`POST ${ctx.options.loginPath} set no \`${ctx.cookieName}\` cookie, so the browser keeps the pre-login id ${idHash(before.id)} as the logged-in id.`);
    }
    if (login.issued.id === before.id) {
      return fail(`The Set-Cookie at login carries the pre-login id ${idHash(before.id)} again instead of a new one.`);
    }
    return pass(`Login replaced the pre-login id ${idHash(before.id)} with a new id ${idHash(login.issued.id)}.`);
  },
};

export const preLoginIdDead: AttackDefinition = {
  id: 'pre-login-id-dead',
  title: 'The pre-login session id is dead on the server after login.',
  method:
    'After login, replays the pre-login cookie on the public start path: a dead id is replaced by a fresh one, a live one is kept (rotation that forgot to destroy the old record).',
  standard: standard(['3.2.1', '3.3.1'], ['7.2.4'], [CS.renew]),
  class: 'fixation',
  severity: 'high',
  core: true,
  async run(ctx) {
    const { carried: before, login } = await logInWithPreLoginId(ctx, 'user visits the site', 'user logs in with the pre-login cookie');
    if (login.cookie?.id === before.id) {
      return fail(`Login kept the pre-login id ${idHash(before.id)}: it is the logged-in session's id, so it cannot be dead.`);
    }
    const alive = await ctx.alive('the pre-login cookie is replayed after login', before);
    if (alive === undefined) return notApplicable(ctx.facts.aliveCheck.usable ? 'the alive check was not usable' : ctx.facts.aliveCheck.why);
    if (alive) {
      return fail(
        `The server still accepts the pre-login id ${idHash(before.id)} after login (GET ${ctx.options.startPath} kept it instead of issuing a fresh id): the rotation left the old session alive.`,
      );
    }
    return pass(`After login the pre-login id ${idHash(before.id)} is unknown to the server: replaying it got a fresh id.`);
  },
};

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** A random id with the same length and character classes as a real one. */
function lookalikeId(real: string): string {
  const alphabet = /^[0-9]+$/.test(real)
    ? '0123456789'
    : /^[0-9a-f]+$/.test(real)
      ? '0123456789abcdef'
      : /^[0-9A-Za-z]+$/.test(real)
        ? BASE64URL.slice(0, 62)
        : BASE64URL;
  const bytes = randomBytes(Math.max(real.length, 16));
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
}

export const forgedIdNotAdopted: AttackDefinition = {
  id: 'forged-id-not-adopted',
  title: 'A session id the server never issued is not adopted.',
  method:
    'Presents made-up ids shaped like real ones (bare, and signed with a bogus signature), then logs in with one: the server must issue its own id each time (strict session management), never the attacker\'s.',
  standard: standard(['3.2.1'], ['7.2.1', '7.2.4'], [CS.strict]),
  class: 'fixation',
  severity: 'high',
  async run(ctx) {
    const real = ctx.facts.anonymousSessions ? await ctx.anonymous('attacker looks at a real id') : (await ctx.loggedIn('attacker')).after;
    const forged: SessionCookie[] = [ctx.cookie(lookalikeId(real.id))];
    if (real.signature) {
      const sig = randomBytes(32).toString('base64').replace(/=+$/, '');
      forged.push(ctx.cookie(encodeURIComponent(`${real.signature.prefix}${lookalikeId(real.id)}.${sig}`)));
    }
    const adopted: string[] = [];
    for (const cookie of forged) {
      const visit = await ctx.visit('attacker presents a forged id', cookie);
      if (visit.issued?.id === cookie.id) adopted.push(`GET ${ctx.options.startPath} answered with a Set-Cookie carrying the forged id ${idHash(cookie.id)}`);
    }
    const bare = forged[0] as SessionCookie;
    const login = await ctx.login('victim logs in carrying the forged id', bare);
    if (login.cookie?.id === bare.id) adopted.push(`the login kept the forged id ${idHash(bare.id)} as the session id`);
    const replay = await ctx.authenticated('attacker replays the forged id', bare);
    if (replay.ok) adopted.push(`the forged id ${idHash(bare.id)} opens ${ctx.options.protectedPath} after the victim's login`);
    if (adopted.length > 0) return fail(`The server adopted an id it never issued: ${adopted.join('; ')}.`);
    return pass(`None of ${forged.length} forged ids was adopted: the server issued its own id each time.`);
  },
};

export const privilegeChangeRotates: AttackDefinition = {
  id: 'privilege-change-rotates',
  title: 'A privilege change issues a new session id and kills the old one.',
  method: 'Logs in, performs the privilege change (step-up), then checks that the response set a new id and that the old id no longer works.',
  standard: standard(['3.2.1', '3.7.1'], ['7.2.4', '7.5.3'], [CS.renew]),
  needs: ['elevate'],
  class: 'fixation',
  severity: 'high',
  async run(ctx: AttackContext) {
    const { elevatePath, protectedPath } = ctx.options;
    if (!elevatePath) throw new NotApplicable(`no privilege change to attack: pass ${ctx.options.name('elevatePath')} (for example a step-up route) to check it`);
    const { after: before } = await ctx.loggedIn('user');
    const change = await ctx.elevate('user changes privilege', before);
    if (change.response.status >= 400) return notApplicable(`POST ${elevatePath} answered ${change.response.status}`);
    if (change.issued) ctx.track(change.issued);
    if (!change.issued || change.issued.id === before.id) {
      return fail(`POST ${elevatePath} kept the session id ${idHash(before.id)}: an id known at the lower privilege now carries the higher one.`);
    }
    const old = await ctx.authenticated('attacker replays the cookie from before the change', before);
    if (old.ok) return fail(`POST ${elevatePath} set a new id, but the old id ${idHash(before.id)} still opens ${protectedPath} (${old.status}).`);
    const alive = await ctx.alive('the old cookie is replayed on the start path', before);
    if (alive) return fail(`POST ${elevatePath} set a new id, but the server still accepts the old id ${idHash(before.id)}.`);
    return pass(`The privilege change replaced ${idHash(before.id)} with ${idHash(change.issued.id)} and the old id is dead.`);
  },
};
