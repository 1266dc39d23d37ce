/** Every attack in the catalogue, by id. */
export type FixationAttackId =
  | 'planted-id-survives-login'
  | 'login-sets-new-id'
  | 'pre-login-id-dead'
  | 'logged-in-id-survives-login'
  | 'forged-id-not-adopted'
  | 'login-csrf'
  | 'url-session-id'
  | 'cookie-tossing'
  | 'cookie-httponly'
  | 'cookie-secure'
  | 'cookie-samesite'
  | 'cookie-path'
  | 'cookie-host-prefix'
  | 'logout-kills-session'
  | 'logout-all-kills-sessions'
  | 'id-entropy'
  | 'tampered-signature-rejected'
  | 'privilege-change-rotates'
  | 'inflight-no-resurrection'
  | 'idle-timeout'
  | 'absolute-timeout'
  | 'id-not-leaked';

/**
 * `pass`: the app resisted the attack. `fail`: the attack succeeded. `not-applicable`: the
 * attack could not be run against this app, and `reason` says why; it is never a pass.
 * `error`: the attack was aborted because the target misbehaved (a route that hung past the
 * per-request timeout, a reset connection); `reason` names the route.
 */
export type AttackOutcome = 'pass' | 'fail' | 'not-applicable' | 'error';

/**
 * What a successful attack means. `fixation`: an attacker can fix, keep or take over a
 * session (a planted id survives login, a logged-out id still works…). `hardening`: a defence
 * in depth is missing (SameSite, `__Host-`, cookie tossing, timeouts…); no session is taken
 * over by it alone.
 */
export type FindingClass = 'fixation' | 'hardening';

/** How bad a successful attack is, for sorting and for SARIF levels (`critical`/`high` → error, `medium` → warning, `low` → note). */
export type Severity = 'critical' | 'high' | 'medium' | 'low';

/**
 * Which findings fail a run. `fixation` (the default): fixation findings only. `hardening`:
 * hardening findings and everything above them (today: both classes). `all`: every finding.
 */
export type FailOn = 'fixation' | 'hardening' | 'all';

/**
 * The run as a whole. `pass`: no finding at or above `failOn`, and every core fixation attack
 * ran. `fail`: a finding at or above `failOn`. `inconclusive`: no such finding, but a core
 * fixation attack could not run or an attack was aborted; `summary.inconclusive` says why.
 */
export type RunVerdict = 'pass' | 'fail' | 'inconclusive';

/** Where an attack comes from: OWASP ASVS requirement numbers and Cheat Sheet sections. */
export interface AttackStandard {
  /** ASVS 4.0.3 requirement numbers, e.g. `'3.2.1'`. */
  asvs4: readonly string[];
  /** ASVS 5.0.0 requirement numbers, e.g. `'7.2.4'`. */
  asvs5: readonly string[];
  /** Section titles of the OWASP Session Management Cheat Sheet. */
  cheatSheet: readonly string[];
}

/** A cookie as it appears in evidence: never its value, only a hash of the session id in it. */
export interface EvidenceCookie {
  name: string;
  /** `#` + the first 8 hex digits of SHA-256 of the session id, or `(cleared)`. */
  id: string;
  /** Set-Cookie attributes as sent (`HttpOnly`, `SameSite=Lax`, …); only on received cookies. */
  attributes?: string[];
}

/** One request of an attack and what came back. Ids in the path are replaced by their hash. */
export interface EvidenceRequest {
  /** Who does what, e.g. `victim logs in with the planted cookie`. */
  step: string;
  method: string;
  path: string;
  /** The cookies the request carried, in order. */
  sent: EvidenceCookie[];
  /** The status, or `undefined` when the request failed (see `error`). */
  status?: number;
  /** Session cookies set by the response. */
  received: EvidenceCookie[];
  /** The Location header (redacted), when there was one. */
  location?: string;
  error?: string;
}

/** The result of one attack. */
export interface AttackResult {
  id: FixationAttackId;
  title: string;
  standard: AttackStandard;
  /** What a success of this attack means. */
  class: FindingClass;
  severity: Severity;
  /** A core fixation attack: when it cannot run, the run is inconclusive. */
  core: boolean;
  outcome: AttackOutcome;
  /** Why this outcome, in one or two sentences: what was tried and what the app did. */
  reason: string;
  evidence: {
    requests: EvidenceRequest[];
    /** Observations that are not a single request (estimates, comparisons, skipped checks). */
    notes: string[];
  };
  durationMs: number;
}

/** What `runFixationAttacks` returns. Serialisable with `JSON.stringify`. */
export interface FixationReport {
  /** The base URL attacked (an in-process app shows its ephemeral 127.0.0.1 URL). */
  target: string;
  /** The session cookie name, given or detected. */
  cookieName: string;
  /** Whether the cookie checks that only make sense on https (Secure, `__Host-`) were run. */
  https: boolean;
  startedAt: string;
  durationMs: number;
  results: AttackResult[];
  summary: RunSummary;
}

/** The counts and the verdict of a run (the fixation and the MCP reports share it). */
export interface RunSummary {
  total: number;
  passed: number;
  /** Attacks that succeeded. */
  failed: number;
  notApplicable: number;
  /** Attacks aborted because the target misbehaved (a hung route…). */
  errors: number;
  /** Attacks that succeeded, by class. */
  findings: Record<FindingClass, number>;
  /** `true` when no attack succeeded (whatever `failOn`; see `verdict`). */
  secure: boolean;
  /** The threshold the verdict was decided with. */
  failOn: FailOn;
  verdict: RunVerdict;
  /** Why the run is inconclusive (empty otherwise), each naming the option or flag that fixes it. */
  inconclusive: string[];
}

/** A test clock the suite moves instead of waiting, for the idle and absolute timeout attacks. */
export interface AttackClock {
  /** Moves the app's clock forward by `ms` milliseconds. */
  advance(ms: number): unknown;
}

/** Describes the app under attack. Only `loginBody` is required. */
export interface FixationAttackOptions {
  /** The body of a successful login, e.g. `{ username: 'alice', password: 'alice-password' }`. */
  loginBody: Record<string, unknown>;
  /**
   * A second account's login body, for the attacker's own session. `logged-in-id-survives-login`
   * plants that session and logs the first account in on top of it: only with two accounts can
   * it catch an app that switches account on the same id when another user logs in.
   */
  attackerLoginBody?: Record<string, unknown>;
  /** `json` (the default) or `form` (`application/x-www-form-urlencoded`). */
  loginEncoding?: 'json' | 'form';
  /** The default value is `'/login'` (POST). */
  loginPath?: string;
  /** A public path that writes to the session, so an anonymous session exists. The default value is `'/'` (GET). */
  startPath?: string;
  /** A path that answers 2xx only when authenticated. The default value is `'/me'` (GET). */
  protectedPath?: string;
  /** The default value is `'/logout'`. */
  logoutPath?: string;
  /** How the logout is sent: `'POST'` (the default) or `'GET'` (a logout link, as in express's examples/auth). */
  logoutMethod?: 'GET' | 'POST';
  /** Ends every session of the user (POST). Without it, `logout-all-kills-sessions` is not applicable. */
  logoutAllPath?: string;
  /** A privilege change such as step-up (POST). Without it, `privilege-change-rotates` is not applicable. */
  elevatePath?: string;
  /** The JSON body of the privilege change. The default value is `{}`. */
  elevateBody?: Record<string, unknown>;
  /** The session cookie's name. The default value is detected from the first Set-Cookie. */
  cookieName?: string;
  /**
   * Check Secure and `__Host-` as on https. The default value is `true` for an `https:` URL.
   * With a plain-HTTP target (an in-process app) the suite then sends `X-Forwarded-Proto: https`,
   * so an app that trusts its proxy sets its production cookie.
   */
  https?: boolean;
  /** An in-process test clock (for example fixation-guard's `ManualClock`). */
  clock?: AttackClock;
  /** A running server's test-clock endpoint: `POST {"advanceMs": n}`. */
  clockPath?: string;
  /** The app's idle timeout. The default value is `'30m'`. */
  idleTimeout?: number | string;
  /** The app's absolute session lifetime. The default value is `'4h'`. */
  absoluteTimeout?: number | string;
  /** How many fresh ids `id-entropy` samples. The default value is `64`. */
  entropySamples?: number;
  /** Run only these attacks. */
  only?: readonly FixationAttackId[];
  /** Leave these attacks out. */
  skip?: readonly FixationAttackId[];
  /** Per-request timeout. The default value is `10000` ms. */
  requestTimeout?: number | string;
  /** Extra headers on every request (an API key, a fixed `Host`, …). */
  headers?: Record<string, string>;
  /** Which findings fail the run (`summary.verdict`). The default value is `'fixation'`. */
  failOn?: FailOn;
  /**
   * CSRF tokens for logins (and logouts, privilege changes) of apps that require them. The
   * default value is `'auto'`: the login page (`GET loginPath`, then the start path) is read
   * and a token found in a hidden input, a meta tag, a response header or a cookie whose name
   * says csrf/xsrf is sent back. `false` turns it off. Each session the suite creates reads
   * its own token, with its own cookies.
   */
  csrf?: 'auto' | false | CsrfOptions;
}

/**
 * Where a CSRF token is read and where it is sent. Each side is `kind:name`.
 *
 * @example
 * { from: 'input:_csrf' }                              // a hidden form field, sent back as the field _csrf
 * { from: 'cookie:XSRF-TOKEN', to: 'header:X-XSRF-TOKEN' } // double submit
 * { from: 'json:csrfToken', page: '/api/csrf-token' }   // an SPA's token endpoint, sent back as X-CSRF-Token
 */
export interface CsrfOptions {
  /** `input:<name>` (hidden input), `meta:<name>` (meta tag), `cookie:<name>` or `header:<name>` (of the page's response), or `json:<field>` (a top-level field of the page's JSON body: an SPA's token endpoint). */
  from: string;
  /**
   * `field:<name>` (a body field, form or JSON) or `header:<name>`. The default value follows
   * `from`: `input:x` → `field:x`; `meta:x` → `header:X-CSRF-Token`; `cookie:XSRF-TOKEN` →
   * `header:X-XSRF-TOKEN`, other cookies → `header:X-CSRF-Token`; `header:x` → `header:x`;
   * `json:x` → `header:X-CSRF-Token`.
   */
  to?: string;
  /** The page whose response carries the token (GET). The default value is `loginPath`. */
  page?: string;
}
