import signature from 'cookie-signature';

/** What the request's Cookie header says about the session cookie. */
export interface SessionCookieReading {
  /** How many times the session cookie's name appears (more than one is cookie tossing). */
  count: number;
  /**
   * `valid`: signed by one of the secrets; `tampered`: signed but not by us; `unsigned`: no
   * `s:` prefix; `signed`: has the `s:` form but was not verified (no secrets were given).
   */
  status: 'absent' | 'valid' | 'tampered' | 'unsigned' | 'malformed' | 'signed';
  /** The verified session id (only when `status` is `valid`). */
  id?: string;
  /**
   * The id part of an `s:`-signed value, not verified (only when `status` is `signed`): what
   * express-session will look up if the signature holds.
   */
  unverifiedId?: string;
}

/**
 * A class, not object literals: a reading lives as long as its request, and V8 moves the
 * objects of a literal that outlive young collections to the old generation, where a dead one
 * holds what it points to until a full collection (see the guard's `RequestState`).
 */
class Reading implements SessionCookieReading {
  declare id?: string;
  declare unverifiedId?: string;

  constructor(
    readonly count: number,
    readonly status: SessionCookieReading['status'],
  ) {}
}

const ABSENT: SessionCookieReading = Object.freeze(new Reading(0, 'absent'));

function decode(value: string): string | undefined {
  if (value.indexOf('%') === -1) return value;
  // The usual form of a signed id, `s%3A<id>.<signature>`, needs no general decoding.
  if (value.startsWith('s%3A') && value.indexOf('%', 4) === -1) return `s:${value.slice(4)}`;
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

/**
 * `header[from, to)` without the spaces and tabs around it — only those, as the `cookie` parser
 * express-session uses trims them (`String#trim` also strips U+00A0 and other Unicode spaces,
 * which would make this reader see a cookie name express-session does not).
 */
function trimmed(header: string, from: number, to: number): string {
  let start = from;
  let end = to;
  while (start < end && isSpaceOrTab(header.charCodeAt(start))) start++;
  while (end > start && isSpaceOrTab(header.charCodeAt(end - 1))) end--;
  return header.slice(start, end);
}

function isSpaceOrTab(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/**
 * Reads the session cookie from a raw Cookie header the way express-session does (first
 * occurrence, `s:`-signed), but also counts duplicates and reports why a value was not usable.
 */
export function readSessionCookie(header: string | undefined, name: string, secrets: readonly string[]): SessionCookieReading {
  if (!header || header.indexOf(name) === -1) return ABSENT;
  let count = 0;
  let first: string | undefined;
  let start = 0;
  while (start < header.length) {
    let end = header.indexOf(';', start);
    if (end === -1) end = header.length;
    const eq = header.indexOf('=', start);
    if (eq !== -1 && eq < end && trimmed(header, start, eq) === name) {
      count++;
      if (count === 1) {
        let raw = trimmed(header, eq + 1, end);
        if (raw.length > 1 && raw.charCodeAt(0) === 0x22 && raw.charCodeAt(raw.length - 1) === 0x22) raw = raw.slice(1, -1);
        first = raw;
      }
    }
    start = end + 1;
  }
  if (count === 0 || first === undefined) return ABSENT;
  const value = decode(first);
  if (value === undefined) return new Reading(count, 'malformed');
  if (!value.startsWith('s:')) return new Reading(count, 'unsigned');
  if (secrets.length === 0) {
    const reading = new Reading(count, 'signed');
    const dot = value.lastIndexOf('.');
    if (dot > 2) reading.unverifiedId = value.slice(2, dot);
    return reading;
  }
  for (const secret of secrets) {
    const id = signature.unsign(value.slice(2), secret);
    if (id !== false) {
      const reading = new Reading(count, 'valid');
      reading.id = id;
      return reading;
    }
  }
  return new Reading(count, 'tampered');
}

/** Removes every `name=…` pair from a Cookie header. */
export function withoutCookie(header: string, name: string): string {
  return header
    .split(';')
    .filter((pair) => {
      const eq = pair.indexOf('=');
      return trimmed(pair, 0, eq === -1 ? pair.length : eq) !== name;
    })
    .join(';')
    .trim();
}
