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
    const { before, carried } = await logInWithPreLoginId(ctx, 'attacker visits the site and keeps the pre-login cookie', 'victim logs in carrying the planted cookie');
    // The id the first visit gave, and the one the login carried (a login page may issue its
    // own): the attacker can plant either, the latter once the victim's page has loaded.
    const planted = carried.id === before.id ? [before] : [before, carried];
    const statuses: number[] = [];
    for (const id of planted) {
      const attacker = await ctx.authenticated('attacker replays the planted cookie', id);
      statuses.push(attacker.status);
      if (attacker.ok) {
        return fail(`The planted pre-login id ${idHash(id.id)} was authenticated by the victim's login: the attacker's copy opens ${ctx.options.protectedPath} (${attacker.status}).`);
      }
    }
    const which = planted.length > 1 ? `${idHash(before.id)} (and the one the login carried, ${idHash(carried.id)})` : idHash(before.id);
    return pass(`The planted id ${which} stayed unauthenticated after the victim logged in (${ctx.options.protectedPath} → ${statuses.join(', ')}).`);
  },
};

/** The string values of a login body (a user name, an email) that a page about its account may show. */
function markers(body: Record<string, unknown>): string[] {
  return Object.values(body).filter((v): v is string => typeof v === 'string' && v.length >= 3);
}

/**
 * A planted id that is already logged in: the attacker logs in to his own account and plants
 * that cookie (cookie tossing, XSS); an app that rotates only an anonymous session at login
 * ("switch account" on the same id) hands the victim's login to the attacker's copy.
 *
 * With two accounts (`attackerLoginBody`), the attacker's copy fails the attack when the victim's
 * login went into it: it still opens the protected path, and that page now shows the victim's
 * account (a value of the victim's login body) or no longer shows the attacker's. With one
 * account, only a login that answers 2xx and keeps the planted id is known to have gone into it.
 */
export const loggedInIdSurvivesLogin: AttackDefinition = {
  id: 'logged-in-id-survives-login',
  title: 'A session id that is already logged in does not survive another login.',
  method:
    "Logs in (as a second account when `attackerLoginBody` is given), then logs the first account in carrying that logged-in cookie, as when an attacker plants the cookie of his own session in the victim's browser: the victim's login must not go into the planted session (the login keeps its id, or the planted cookie then opens the victim's account).",
  standard: standard(['3.2.1'], ['7.2.4'], [CS.renew]),
  class: 'fixation',
  severity: 'critical',
  async run(ctx) {
    const { attackerLoginBody, loginBody, protectedPath } = ctx.options;
    const twoAccounts = attackerLoginBody !== undefined;
    const { after: planted } = await ctx.loggedIn('attacker', attackerLoginBody ?? loginBody);
    const before = await ctx.authenticated("attacker's own page, before", planted);
    const login = await ctx.login("victim logs in carrying the attacker's logged-in cookie", planted);
    const status = login.response.status;
    if (status >= 400) return notApplicable(`a login carrying a logged-in cookie answered ${status}: the app refuses it`);
    const kept = !login.issued || login.issued.id === planted.id;
    const after = await ctx.authenticated('attacker replays the planted cookie', planted);
    if (twoAccounts) {
      const shows = (page: string, body: Record<string, unknown>) => markers(body).some((m) => page.includes(m));
      const intoPlanted = after.ok && ((shows(after.body, loginBody) && !shows(before.body, loginBody)) || (shows(before.body, attackerLoginBody) && !shows(after.body, attackerLoginBody)));
      if (intoPlanted) {
        return fail(`After the victim logged in carrying the attacker's logged-in id ${idHash(planted.id)}, that id opens ${protectedPath} (${after.status}) on the victim's account: the victim's login went into the attacker's session.`);
      }
      if (after.ok && kept) {
        if (!shows(before.body, attackerLoginBody)) {
          return notApplicable(`${protectedPath} does not show which account it is (no value of the attacker's login body): the suite cannot tell whether the login (${status}, the id kept) went into the planted session`);
        }
        return notApplicable(`the login answered ${status}, kept the id ${idHash(planted.id)} and left the attacker's session as it was: the app ignores a login on a logged-in session`);
      }
      return pass(`The victim's login did not go into the attacker's session ${idHash(planted.id)} (${kept ? 'the id was kept' : `a new id ${idHash((login.issued as SessionCookie).id)} was set`}; the planted id opens ${protectedPath}: ${after.status}${after.ok ? ", still the attacker's account" : ''}).`);
    }
    if (!kept) {
      return pass(`The second login replaced ${idHash(planted.id)} with ${idHash((login.issued as SessionCookie).id)}. With one account, a planted id that still works is still that same account's; give ${ctx.options.name('attackerLoginBody')} (a second account) to check an app that switches account on the same id.`);
    }
    if (!after.ok) return pass(`The second login set no new id, but the planted id ${idHash(planted.id)} no longer opens ${protectedPath} (${after.status}).`);
    if (status >= 300) {
      return notApplicable(`the login carrying a logged-in cookie answered ${status} and kept the id ${idHash(planted.id)}: with one account, a refusal by redirect looks the same as a login on that id; give ${ctx.options.name('attackerLoginBody')} (a second account) to tell them apart`);
    }
    return fail(`A login carrying the logged-in id ${idHash(planted.id)} answered ${status} and kept that id, which still opens ${protectedPath} (${after.status}): an attacker who plants the cookie of his own session gets the victim's login.`);
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
