/**
 * The guard's own state inside every session record (`fixationGuard`), and the pure rules
 * that create and strip it. No I/O here: the store layer persists it, the Express layer
 * decides when it changes.
 */

/** The key of the guard's state in a session record. */
export const GUARD_KEY = 'fixationGuard';

/** What the guard keeps in each session record, under `fixationGuard`. */
export interface GuardState {
  v: 1;
  createdAt: number;
  lastSeenAt: number;
  rotatedAt: number;
  /** Set only by `req.login` (or a fresh session saved by passport's own regenerate). */
  principal?: string;
  /** Keyed hash of the id the authentication was bound to: persisted anywhere else, it trips. */
  boundTo?: string;
  authAt?: number;
  /** Who the app's own keys (`authKeys`) named when the authentication was bound (the first). */
  authPrincipal?: string;
  /** What each `authKeys` path named when the authentication was bound. */
  authNames?: Record<string, string>;
  elevatedAt?: number;
  privilege?: string;
  credentialVersion?: string;
}

declare module 'express-session' {
  interface SessionData {
    fixationGuard?: GuardState;
  }
}

/**
 * How the state is stored. The record keeps `fixationGuard` and its `principal` (stores read
 * the principal structurally: the Redis store files a record under it), and packs the rest:
 *
 * `{"t":"<createdAt>.<lastSeenAt>.<rotatedAt>[.<authAt>]","principal":…,"b":<boundTo>,
 *   "ap":<authPrincipal>,"an":<authNames>,"e":<elevatedAt>,"p":<privilege>,"c":<credentialVersion>}`
 *
 * — times in base 36, every one after createdAt as its offset from createdAt; absent fields
 * omitted, always in this order, so that decoding and encoding a stored state gives back the
 * same JSON (express-session compares the two to decide whether a request changed the
 * session). About 75 bytes where the verbose form took 165 (a third of a session record).
 * Records stored verbosely (`{"v":1,"createdAt":…}`) are still read, and rewritten compactly
 * the first time a request loads them. A class rather than an object literal, as everything a
 * session holds for the whole request (see `HeldState`).
 */
class CompactState {
  declare principal?: string;
  declare b?: string;
  declare ap?: string;
  declare an?: Record<string, string>;
  declare e?: string;
  declare p?: string;
  declare c?: string;

  constructor(readonly t: string) {}
}

const b36 = (n: number) => n.toString(36);

/** The compact form, or undefined when a time is not a safe integer (then the verbose form is stored). */
function encode(state: GuardState): CompactState | undefined {
  const { createdAt, lastSeenAt, rotatedAt, authAt, elevatedAt } = state;
  for (const time of [createdAt, lastSeenAt, rotatedAt, authAt ?? 0, elevatedAt ?? 0])
    if (!Number.isSafeInteger(time)) return undefined;
  let t = `${b36(createdAt)}.${b36(lastSeenAt - createdAt)}.${b36(rotatedAt - createdAt)}`;
  if (authAt !== undefined) t += `.${b36(authAt - createdAt)}`;
  const out = new CompactState(t);
  if (state.principal !== undefined) out.principal = state.principal;
  if (state.boundTo !== undefined) out.b = state.boundTo;
  if (state.authPrincipal !== undefined) out.ap = state.authPrincipal;
  if (state.authNames !== undefined) out.an = state.authNames;
  if (elevatedAt !== undefined) out.e = b36(elevatedAt - createdAt);
  if (state.privilege !== undefined) out.p = state.privilege;
  if (state.credentialVersion !== undefined) out.c = state.credentialVersion;
  return out;
}

/**
 * The fields a state was encoded from, to tell whether it changed since (field by field, no
 * allocation: this runs several times per request).
 */
class EncodedFrom {
  // Declared, not defined: the constructor creates each field once (a defined field would first
  // be set to undefined, then written again).
  declare readonly createdAt: number;
  declare readonly lastSeenAt: number;
  declare readonly rotatedAt: number;
  declare readonly authAt: number | undefined;
  declare readonly elevatedAt: number | undefined;
  declare readonly principal: string | undefined;
  declare readonly boundTo: string | undefined;
  declare readonly authPrincipal: string | undefined;
  declare readonly authNames: Record<string, string> | undefined;
  declare readonly privilege: string | undefined;
  declare readonly credentialVersion: string | undefined;

  constructor(state: GuardState) {
    this.createdAt = state.createdAt;
    this.lastSeenAt = state.lastSeenAt;
    this.rotatedAt = state.rotatedAt;
    this.authAt = state.authAt;
    this.elevatedAt = state.elevatedAt;
    this.principal = state.principal;
    this.boundTo = state.boundTo;
    this.authPrincipal = state.authPrincipal;
    this.authNames = state.authNames;
    this.privilege = state.privilege;
    this.credentialVersion = state.credentialVersion;
  }

  matches(state: GuardState): boolean {
    return (
      state.createdAt === this.createdAt &&
      state.lastSeenAt === this.lastSeenAt &&
      state.rotatedAt === this.rotatedAt &&
      state.authAt === this.authAt &&
      state.elevatedAt === this.elevatedAt &&
      state.principal === this.principal &&
      state.boundTo === this.boundTo &&
      state.authPrincipal === this.authPrincipal &&
      state.authNames === this.authNames &&
      state.privilege === this.privilege &&
      state.credentialVersion === this.credentialVersion
    );
  }
}

/**
 * A state as the guard holds it in memory: its own enumerable fields are the `GuardState`
 * (spreading one copies the fields only), and it serialises in the compact form. The encoded
 * form is remembered with the fields it was made from: the session is serialised several times
 * per request (the guard's comparison, express-session's hashes) and a state that did not change
 * is not encoded again. A state decoded from a record starts with that record's form, which is
 * what the store holds.
 */
class HeldState {
  // Two fields rather than an `{ out, from }` object: what a session holds for the whole request
  // is made of class instances, never object literals (see `RequestState` for why).
  #out: object | undefined;
  #from: EncodedFrom | undefined;

  constructor(fields: GuardState, stored?: object) {
    Object.assign(this, fields);
    if (stored) {
      this.#out = stored;
      this.#from = new EncodedFrom(fields);
    }
  }

  toJSON(): object {
    const state = this as unknown as GuardState;
    if (this.#from?.matches(state)) return this.#out as object;
    const out = encode(state);
    if (!out) return { ...state };
    this.#out = out;
    this.#from = new EncodedFrom(state);
    return out;
  }
}

/** `fields` as a state that is stored compactly. */
export function guardState(fields: GuardState, stored?: object): GuardState {
  return new HeldState(fields, stored) as unknown as GuardState;
}

/** A stored base-36 integer, or NaN when unreadable. */
function integer(text: string | undefined): number {
  return text === undefined ? Number.NaN : parseInt(text, 36);
}

/** A stored time: a base-36 integer, or 0 (long past: every timeout is due) when unreadable. */
function time(text: string | undefined, base: number): number {
  const n = integer(text);
  return Number.isSafeInteger(n) ? base + n : 0;
}

/** The `index`-th dot-separated field of `t` (no array: this runs on every request that loads a session). */
function field(t: string, index: number): string | undefined {
  let start = 0;
  for (let i = 0; i < index; i++) {
    const dot = t.indexOf('.', start);
    if (dot === -1) return undefined;
    start = dot + 1;
  }
  const end = t.indexOf('.', start);
  return end === -1 ? t.slice(start) : t.slice(start, end);
}

/**
 * A later time, stored as an offset from createdAt (NaN when unreadable, which makes it long
 * past). A createdAt of 0 is a time like any other (a clock that starts at 0).
 */
function after(offset: string | undefined, createdAt: number): number {
  return Number.isNaN(createdAt) ? 0 : time(offset, createdAt);
}

const VERBOSE_TIMES = ['createdAt', 'lastSeenAt', 'rotatedAt', 'authAt', 'elevatedAt'] as const;

/**
 * A verbose state (the form before the compact one, and the form of a clock with fractions),
 * with every time that is not a finite number long past (0), as the compact form reads an
 * unreadable time: a timeout compared with one is then due, where NaN would never be.
 */
function verbose(raw: Record<string, unknown>): GuardState {
  let fixed: Record<string, unknown> | undefined;
  for (const key of VERBOSE_TIMES) {
    const value = raw[key];
    if (value === undefined && (key === 'authAt' || key === 'elevatedAt')) continue;
    if (typeof value !== 'number' || !Number.isFinite(value)) (fixed ??= { ...raw })[key] = 0;
  }
  return (fixed ?? raw) as unknown as GuardState;
}

/** The state a stored `fixationGuard` value describes, compact or verbose. */
function decode(raw: Record<string, unknown>): GuardState {
  const t = raw.t;
  if (typeof t !== 'string') return guardState(verbose(raw));
  const created = integer(field(t, 0));
  // The base of the later times: NaN (they are long past) when createdAt is unreadable.
  const base = Number.isSafeInteger(created) ? created : Number.NaN;
  const createdAt = Number.isNaN(base) ? 0 : base;
  const state: GuardState = { v: 1, createdAt, lastSeenAt: after(field(t, 1), base), rotatedAt: after(field(t, 2), base) };
  if (typeof raw.principal === 'string') state.principal = raw.principal;
  if (typeof raw.b === 'string') state.boundTo = raw.b;
  const auth = field(t, 3);
  if (auth !== undefined) state.authAt = after(auth, base);
  if (typeof raw.ap === 'string') state.authPrincipal = raw.ap;
  if (typeof raw.an === 'object' && raw.an !== null)
    state.authNames = raw.an as Record<string, string>;
  if (typeof raw.e === 'string') state.elevatedAt = after(raw.e, base);
  if (typeof raw.p === 'string') state.privilege = raw.p;
  if (typeof raw.c === 'string') state.credentialVersion = raw.c;
  return guardState(state, raw);
}

/** Raises `state.lastSeenAt` to `at`, never lowering it (a later write of an older activity keeps the newer). */
export function raiseLastSeenAt(state: GuardState, at: number): void {
  if (!(state.lastSeenAt >= at)) state.lastSeenAt = at;
}

export function newGuardState(now: number): GuardState {
  return guardState({ v: 1, createdAt: now, lastSeenAt: now, rotatedAt: now });
}

/** The guard state of a session that is not (or no longer) authenticated. */
export function withoutAuthentication(state: GuardState): GuardState {
  const {
    principal: _p,
    boundTo: _b,
    authAt: _a,
    authPrincipal: _ap,
    authNames: _an,
    elevatedAt: _e,
    privilege: _pr,
    credentialVersion: _c,
    ...rest
  } = state;
  return guardState(rest);
}

/**
 * The guard state of a record, read structurally (records come back from stores as JSON, in
 * the compact or the verbose form). A stored form is decoded once and put back in its place,
 * so that changes to the state stay in the record and it is stored compactly.
 */
export function stateOf(record: object | undefined): GuardState | undefined {
  const holder = record as Record<string, unknown> | undefined;
  const raw = holder?.[GUARD_KEY];
  if (typeof raw !== 'object' || raw === null) return undefined;
  if (raw instanceof HeldState) return raw as unknown as GuardState;
  const state = decode(raw as Record<string, unknown>);
  if (!Object.isFrozen(holder)) (holder as Record<string, unknown>)[GUARD_KEY] = state;
  return state;
}
