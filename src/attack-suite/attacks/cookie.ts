import { DEFAULT_URL_SESSION_ID_NAMES } from '../../url-ids/index.js';
import { decodeCookieValue as decoded, idHash, type SessionCookie } from '../cookies.js';
import { NotApplicable, type AttackContext, type Exchange } from '../context.js';
import { estimateIdEntropy, GUESSABLE_ID_BITS, MIN_ID_ENTROPY_BITS } from '../entropy.js';
import { CS, fail, failAs, notApplicable, pass, standard, type AttackDefinition, type Verdict } from './define.js';

export const urlSessionId: AttackDefinition = {
  id: 'url-session-id',
  title: 'Session ids in the URL (?sid=, ?session_id=, ?<cookie name>=, ;jsessionid=, …) are ignored or rejected.',
  method:
    'Sends a logged-in session\'s id, as the cookie\'s value and bare, in the query string (under the cookie\'s name and every name `rejectUrlSessionIds` refuses, in lower and upper case: sid, sessionid, session_id, jsessionid, phpsessid, connect.sid, aspsessionid; and sessionId, sessionID, SessionId, SessionID) and as a path parameter, with no cookie, to the protected path; then logs in with a pre-login id in the URL. None may authenticate or be adopted.',
  standard: standard(['3.1.1'], ['14.2.1'], [CS.exchange]),
  class: 'fixation',
  severity: 'high',
  async run(ctx) {
    const { protectedPath, loginPath } = ctx.options;
    const { after: victim } = await ctx.loggedIn('victim');
    const value = encodeURIComponent(decoded(victim.value));
    const name = encodeURIComponent(ctx.cookieName);
    // Under each name, the cookie's value (signed, as it is) and the bare id; the names as
    // rejectUrlSessionIds refuses them (in any case) and as apps spell them (sessionId, PHPSESSID).
    const values = [value, encodeURIComponent(victim.id)];
    const params = [...DEFAULT_URL_SESSION_ID_NAMES.flatMap((param) => [param, param.toUpperCase()]), 'sessionId', 'sessionID', 'SessionId', 'SessionID'];
    const links = [
      ...values.map((v) => `${protectedPath}?${name}=${v}`),
      ...params.flatMap((param) => values.map((v) => `${protectedPath}?${encodeURIComponent(param)}=${v}`)),
      `${protectedPath};jsessionid=${value}`,
      `${protectedPath};jsessionid=${encodeURIComponent(victim.id)}`,
    ].filter((link, i, all) => all.indexOf(link) === i);
    const accepted: string[] = [];
    const statuses: number[] = [];
    for (const link of links) {
      const visit = await ctx.send('attacker opens a link that carries the session id, with no cookie', { method: 'GET', path: link });
      statuses.push(visit.response.status);
      if (visit.response.status >= 200 && visit.response.status < 300) accepted.push(`${ctx.redact(link)} → ${visit.response.status}`);
      else if (visit.issued?.id === victim.id) accepted.push(`${ctx.redact(link)} set the cookie to the id from the URL`);
    }
    if (ctx.facts.anonymousSessions) {
      const planted = await ctx.anonymous('attacker takes a pre-login id');
      const login = await ctx.login('victim follows a login link that carries the id', undefined, `${loginPath}?${name}=${encodeURIComponent(decoded(planted.value))}`);
      statuses.push(login.response.status);
      if (login.issued?.id === planted.id) accepted.push(`POST ${loginPath}?${ctx.cookieName}=… logged in under the id from the URL`);
      else {
        // A login that keeps the id it was given sets no cookie (express-session without maxAge):
        // the planted id itself tells whether the login went into it.
        const replay = await ctx.authenticated('attacker replays the id he put in the login link', planted);
        statuses.push(replay.status);
        if (replay.ok) accepted.push(`POST ${loginPath}?${ctx.cookieName}=… logged the id from the URL in: it opens ${protectedPath} (${replay.status})`);
      }
    }
    if (accepted.length > 0) return fail(`The server took the session id from the URL: ${accepted.join('; ')}.`);
    return pass(`All ${statuses.length} requests with an id in the URL were refused or ignored (${[...new Set(statuses)].join(', ')}).`);
  },
};

export const cookieTossing: AttackDefinition = {
  id: 'cookie-tossing',
  title: 'A Cookie header that carries the session cookie twice is not accepted.',
  method:
    'Sends the victim\'s logged-in cookie together with a second cookie of the same name (as a sibling subdomain or a narrower Path can plant), in both orders. The server must refuse the ambiguity, not pick one.',
  standard: standard(['3.4.4'], ['3.3.3'], [CS.multipleCookies, CS.userInput]),
  class: 'hardening',
  severity: 'medium',
  async run(ctx) {
    const { after: victim } = await ctx.loggedIn('victim');
    const tossed = ctx.facts.anonymousSessions ? await ctx.anonymous('attacker takes a pre-login id to toss') : (await ctx.loggedIn('attacker')).after;
    const accepted: string[] = [];
    const statuses: number[] = [];
    for (const [order, cookies] of [
      ['attacker first', [tossed, victim]],
      ['victim first', [victim, tossed]],
    ] as const) {
      const check = await ctx.authenticated(`request carries two \`${ctx.cookieName}\` cookies (${order})`, ...cookies);
      statuses.push(check.status);
      if (check.ok) accepted.push(`${order} → ${check.status}`);
    }
    if (accepted.length > 0) {
      return fail(`A Cookie header with \`${ctx.cookieName}\` twice was accepted and one of the two picked (${accepted.join(', ')}): a tossed cookie decides which session the victim uses.`);
    }
    return pass(`Both orders of a duplicated \`${ctx.cookieName}\` cookie were refused or treated as no session (${statuses.join(', ')}).`);
  },
};

/** The session cookies an anonymous visit and a login set, with their attributes. */
async function issuedCookies(ctx: AttackContext): Promise<Array<{ where: string; cookie: SessionCookie }>> {
  const found: Array<{ where: string; cookie: SessionCookie }> = [];
  const visit = await ctx.visit('user visits the site');
  if (visit.issued) found.push({ where: `GET ${ctx.options.startPath}`, cookie: visit.issued });
  const login = await ctx.login('user logs in', visit.issued);
  if (login.issued) found.push({ where: `POST ${ctx.options.loginPath}`, cookie: login.issued });
  if (found.length === 0) throw new NotApplicable(`no \`${ctx.cookieName}\` cookie was set by GET ${ctx.options.startPath} or at login`);
  return found;
}

function attributeAttack(
  id: AttackDefinition['id'],
  title: string,
  std: AttackDefinition['standard'],
  method: string,
  check: (cookie: SessionCookie, ctx: AttackContext) => string | undefined,
  options: { httpsOnly?: boolean; ok: string; severity: AttackDefinition['severity'] },
): AttackDefinition {
  return {
    id,
    title,
    method,
    standard: std,
    // A cookie attribute is defence in depth: alone, its absence hands no session to anyone.
    class: 'hardening',
    severity: options.severity,
    async run(ctx): Promise<Verdict> {
      if (options.httpsOnly && !ctx.facts.https) {
        return notApplicable(
          `the target is plain http (${ctx.session.client.baseUrl.origin}), where a browser would neither keep a Secure cookie nor accept a \`__Host-\` one; run against the https deployment, or pass ${ctx.options.name('https')} for an app that trusts X-Forwarded-Proto`,
        );
      }
      const problems = (await issuedCookies(ctx))
        .map(({ where, cookie }) => {
          const problem = check(cookie, ctx);
          return problem && `${where}: ${problem}`;
        })
        .filter((p): p is string => p !== undefined);
      if (problems.length > 0) return fail(`${problems.join('; ')}.`);
      return pass(options.ok);
    },
  };
}

export const cookieHttpOnly = attributeAttack(
  'cookie-httponly',
  'The session cookie is HttpOnly.',
  standard(['3.4.2'], ['3.3.4'], [CS.httpOnly]),
  'Reads the attributes of every Set-Cookie of the session cookie (before and at login).',
  (cookie) => (cookie.attributes?.has('httponly') ? undefined : `\`${cookie.name}\` is set without HttpOnly, so any XSS can read the session id`),
  { ok: 'Every Set-Cookie of the session cookie has HttpOnly.', severity: 'medium' },
);

export const cookieSecure = attributeAttack(
  'cookie-secure',
  'The session cookie is Secure on https.',
  standard(['3.4.1'], ['3.3.1'], [CS.secure, CS.tls]),
  'Reads the attributes of every Set-Cookie of the session cookie, on an https target.',
  (cookie) => (cookie.attributes?.has('secure') ? undefined : `\`${cookie.name}\` is set without Secure, so it also travels over plain http`),
  { httpsOnly: true, ok: 'Every Set-Cookie of the session cookie has Secure.', severity: 'medium' },
);

export const cookieSameSite = attributeAttack(
  'cookie-samesite',
  'The session cookie sets SameSite=Lax or SameSite=Strict.',
  standard(['3.4.3'], ['3.3.2'], [CS.sameSite]),
  'Reads the SameSite attribute of every Set-Cookie of the session cookie.',
  (cookie) => {
    const sameSite = cookie.attributes?.get('samesite');
    if (sameSite === undefined) return `\`${cookie.name}\` has no SameSite attribute, so its cross-site behaviour is left to each browser's default`;
    if (!/^(lax|strict)$/i.test(sameSite)) return `\`${cookie.name}\` has SameSite=${sameSite}, so it is sent on cross-site requests`;
    return undefined;
  },
  { ok: 'Every Set-Cookie of the session cookie has SameSite=Lax or Strict.', severity: 'low' },
);

export const cookiePath = attributeAttack(
  'cookie-path',
  'The session cookie is host-only with Path=/.',
  standard(['3.4.5'], ['3.3.3'], [CS.domainPath]),
  'Reads Path and Domain of every Set-Cookie of the session cookie: Path must be / (one cookie for the whole app, as `__Host-` requires) and Domain absent (not shared with subdomains).',
  (cookie) => {
    const path = cookie.attributes?.get('path');
    if (cookie.attributes?.has('domain')) return `\`${cookie.name}\` has Domain=${cookie.attributes.get('domain')}, so every subdomain receives it and can overwrite it`;
    if (path !== '/') return `\`${cookie.name}\` has ${path === undefined ? 'no Path' : `Path=${path}`} instead of Path=/, so the browser may hold several cookies of this name for different paths`;
    return undefined;
  },
  { ok: 'Every Set-Cookie of the session cookie has Path=/ and no Domain.', severity: 'low' },
);

export const cookieHostPrefix = attributeAttack(
  'cookie-host-prefix',
  'The session cookie uses the __Host- prefix on https.',
  standard(['3.4.4'], ['3.3.3'], [CS.domainPath, CS.multipleCookies]),
  'Checks the name starts with `__Host-` (and so is Secure, Path=/, without Domain), which stops sibling subdomains from tossing a cookie of the same name.',
  (cookie) => {
    if (!cookie.name.startsWith('__Host-')) return `\`${cookie.name}\` lacks the __Host- prefix, so a sibling subdomain can set a cookie of the same name`;
    if (!cookie.attributes?.has('secure') || cookie.attributes.get('path') !== '/' || cookie.attributes.has('domain')) {
      return `\`${cookie.name}\` breaks the __Host- rules (Secure, Path=/, no Domain), so browsers drop it`;
    }
    return undefined;
  },
  { httpsOnly: true, ok: 'The session cookie is named with __Host- and keeps its rules.', severity: 'low' },
);

export const tamperedSignatureRejected: AttackDefinition = {
  id: 'tampered-signature-rejected',
  title: 'A session cookie with a tampered or missing signature is rejected.',
  method:
    'Takes a logged-in signed cookie (`s:<id>.<signature>`) and replays the id with a flipped signature, with no signature, bare, and with another id\'s signature.',
  standard: standard(['3.5.3'], ['7.2.1'], [CS.userInput]),
  class: 'fixation',
  severity: 'critical',
  async run(ctx) {
    const { before, after: victim } = await ctx.loggedIn('victim');
    if (!victim.signature) {
      return notApplicable(
        'the session cookie carries no signature (`s:<id>.<sig>` or `<id>.<sig>`), so there is none to tamper with; an unsigned id is only as strong as its entropy, which id-entropy checks',
      );
    }
    const { prefix, sig } = victim.signature;
    const flipped = `${sig.charAt(0) === 'A' ? 'B' : 'A'}${sig.slice(1)}`;
    const variants: Array<[string, string]> = [
      ['a flipped signature', `${prefix}${victim.id}.${flipped}`],
      ['no signature', `${prefix}${victim.id}`],
      ['the bare id', victim.id],
    ];
    if (before?.signature && before.id !== victim.id) variants.push(['the signature of another id', `${prefix}${victim.id}.${before.signature.sig}`]);
    const accepted: string[] = [];
    for (const [what, value] of variants) {
      const check = await ctx.authenticated(`attacker replays the id with ${what}`, ctx.cookie(encodeURIComponent(value)));
      if (check.ok) accepted.push(`${what} → ${check.status}`);
    }
    if (accepted.length > 0) return fail(`The logged-in id ${idHash(victim.id)} was accepted without its valid signature: ${accepted.join(', ')}.`);
    return pass(`All ${variants.length} tampered forms of the logged-in cookie were refused.`);
  },
};

export const idEntropy: AttackDefinition = {
  id: 'id-entropy',
  title: 'Session ids carry at least 128 bits of entropy and never repeat.',
  method:
    'Collects fresh ids (64 by default), infers their alphabet from the positions that vary, credits each position by how much it varies, and looks for repeats and counters or clocks.',
  standard: standard(['3.2.2', '3.2.4'], ['7.2.3'], [CS.entropy, CS.length, CS.content]),
  class: 'fixation',
  severity: 'high',
  async run(ctx) {
    const { entropySamples, startPath, loginPath } = ctx.options;
    const ids: string[] = [];
    for (let i = 0; i < entropySamples; i++) {
      const quiet = i >= 2;
      let cookie: SessionCookie | undefined;
      if (ctx.facts.anonymousSessions) {
        cookie = (await ctx.send('a new visitor gets an id', { method: 'GET', path: startPath, quiet })).issued;
      } else {
        cookie = (await ctx.login('a new login gets an id')).issued;
      }
      if (cookie) ids.push(cookie.id);
    }
    ctx.note(`sampled ${ids.length} fresh ids from ${ctx.facts.anonymousSessions ? `GET ${startPath}` : `POST ${loginPath}`} (the first two requests are shown)`);
    if (ids.length < entropySamples / 2) return notApplicable(`only ${ids.length} of ${entropySamples} requests set a session cookie`);
    const estimate = estimateIdEntropy(ids);
    ctx.note(
      `estimate: ${estimate.bits} bits from ${estimate.length} characters of ${estimate.alphabet}; ${estimate.constantPositions} constant and ${estimate.lowVarietyPositions} low-variety positions`,
    );
    const problems: string[] = [];
    if (estimate.repeats > 0) problems.push(`${estimate.repeats} of ${ids.length} ids repeated`);
    if (estimate.sequential) problems.push(estimate.sequential);
    if (estimate.bits < GUESSABLE_ID_BITS) problems.push(`about ${estimate.bits} bits of entropy, below ${GUESSABLE_ID_BITS}`);
    if (problems.length > 0) return fail(`Session ids are guessable: ${problems.join('; ')}.`);
    if (estimate.bits < MIN_ID_ENTROPY_BITS) {
      // A UUIDv4 (122 bits): no one guesses it, but ASVS 5.0 asks for 128.
      return failAs(
        { class: 'hardening', severity: 'medium' },
        `About ${estimate.bits} bits per id (${estimate.length} characters of ${estimate.alphabet}): not guessable (over ${GUESSABLE_ID_BITS}), but below the ${MIN_ID_ENTROPY_BITS} bits ASVS 5.0 asks for (7.2.3).`,
      );
    }
    return pass(`About ${estimate.bits} bits per id (${estimate.length} characters of ${estimate.alphabet}) and no repeats in ${ids.length} ids.`);
  },
};

/** Where, in a response, any id or cookie value seen so far appears, other than its own Set-Cookie. */
function leaks(ctx: AttackContext, label: string, exchange: Exchange): string[] {
  const needles = new Set<string>();
  for (const cookie of ctx.seenCookies()) {
    needles.add(cookie.value);
    needles.add(decoded(cookie.value));
    // Short ids (a counter) would match anything; their signed cookie value still counts.
    if (cookie.id.length >= 12) {
      needles.add(cookie.id);
      needles.add(encodeURIComponent(cookie.id));
    }
  }
  const found = new Set<string>();
  const has = (text: string) => [...needles].some((needle) => needle.length >= 6 && text.includes(needle));
  if (has(exchange.response.body)) found.add(`the body of ${label}`);
  for (const [name, value] of exchange.response.rawHeaders) {
    if (name === 'set-cookie') {
      const cookieName = value.slice(0, value.indexOf('=')).trim();
      if (cookieName !== ctx.cookieName && has(value)) found.add(`the Set-Cookie of another cookie \`${cookieName}\` in ${label}`);
    } else if (has(value)) {
      found.add(`the ${name === 'location' ? 'Location' : name} header of ${label}`);
    }
  }
  return [...found];
}

export const idNotLeaked: AttackDefinition = {
  id: 'id-not-leaked',
  title: 'The session id never appears outside the session cookie\'s Set-Cookie.',
  method:
    'Walks through a whole session (visit, login, protected page, privilege change, logout) and searches every response body and header for any id or cookie value seen so far.',
  standard: standard(['3.1.1'], ['14.2.1'], [CS.exchange]),
  class: 'fixation',
  severity: 'high',
  async run(ctx) {
    const { startPath, loginPath, protectedPath, elevatePath, logoutPath, logoutMethod } = ctx.options;
    const found: string[] = [];
    let scanned = 0;
    const scan = (label: string, exchange: Exchange) => {
      scanned++;
      found.push(...leaks(ctx, label, exchange));
      return exchange;
    };
    const visit = scan(`GET ${startPath}`, await ctx.visit('user visits the site'));
    const login = await ctx.login('user logs in', visit.issued);
    scan(`POST ${loginPath}`, login);
    let cookie = login.cookie;
    if (!cookie) return notApplicable('the login left no session cookie to follow');
    const me = scan(`GET ${protectedPath}`, await ctx.send('user opens the protected page', { method: 'GET', path: protectedPath, cookies: [cookie] }));
    cookie = me.issued ?? cookie;
    if (elevatePath && ctx.session.usable('elevate')) {
      const elevate = scan(`POST ${elevatePath}`, await ctx.elevate('user changes privilege', cookie));
      cookie = elevate.issued ?? cookie;
    }
    const again = scan(`GET ${startPath} (logged in)`, await ctx.visit('user visits the site again', cookie));
    cookie = again.issued ?? cookie;
    if (ctx.session.usable('logout')) scan(`${logoutMethod} ${logoutPath}`, await ctx.logout('user logs out', cookie));
    if (found.length > 0) return fail(`The session id leaks outside its cookie: in ${found.join('; ')}.`);
    return pass(`No id or cookie value appeared in the bodies or other headers of ${scanned} responses.`);
  },
};
