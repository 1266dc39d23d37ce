import { createHmac, randomBytes } from 'node:crypto';

/** One altered copy of a token or state, and how it was altered. */
export interface Variant {
  how: string;
  value: string;
}

const B64URL = /^[A-Za-z0-9_-]+={0,2}$/;

function decodeJsonSegment(segment: string): Record<string, unknown> | undefined {
  if (segment.length < 4 || !B64URL.test(segment)) return undefined;
  try {
    const value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Changes every string inside a JSON value (appends `x`) and pushes every expiry far out. */
function mutate(value: unknown, key = ''): unknown {
  if (typeof value === 'string') return `${value}x`;
  if (typeof value === 'number' && /^(exp|expires?(At)?|iat|nbf)$/i.test(key)) return value + 10 * 365 * 24 * 3600;
  if (Array.isArray(value)) return value.map((v) => mutate(v));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mutate(v, k)]));
  return value;
}

/** Pushes expiries out but leaves every other claim as it is (the token still names its owner). */
function extend(value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...value, fg: 1 };
  for (const [k, v] of Object.entries(value)) if (typeof v === 'number' && /^(exp|expires?(At)?)$/i.test(k)) out[k] = v + 10 * 365 * 24 * 3600;
  return out;
}

function flip(ch: string): string {
  return ch === 'A' ? 'B' : 'A';
}

/**
 * Altered copies of a bearer token, session token or requestState: truncated, a character
 * changed in the middle and at the end, and, where a segment is base64url JSON (JWTs,
 * `payload.mac` tokens, the SDK's `v1.body.mac` state), the payload changed under the old MAC,
 * re-signed under a key the server never had, and (for a JWT) `alg: none`.
 *
 * `keepClaims` changes payloads without touching who they name (for tokens: a forged token
 * should still be the victim's); otherwise every string in the payload is changed (for states:
 * a forged state should change what the server does).
 */
export function tamperVariants(value: string, keepClaims: boolean): Variant[] {
  const variants: Variant[] = [];
  const mid = Math.floor(value.length / 2);
  variants.push({ how: 'a character in the middle changed', value: value.slice(0, mid) + flip(value.charAt(mid)) + value.slice(mid + 1) });
  variants.push({ how: 'the last character changed', value: value.slice(0, -1) + flip(value.charAt(value.length - 1)) });
  variants.push({ how: 'truncated by 4 characters', value: value.slice(0, -4) });
  variants.push({ how: 'truncated to half', value: value.slice(0, mid) });

  const segments = value.split('.');
  const jwt = segments.length === 3 && typeof decodeJsonSegment(segments[0] as string)?.alg === 'string';
  const index = jwt ? 1 : segments.findIndex((s) => decodeJsonSegment(s) !== undefined);
  if (index !== -1 && segments.length >= 2) {
    const payload = decodeJsonSegment(segments[index] as string) as Record<string, unknown>;
    const changed = encode(keepClaims ? extend(payload) : mutate(payload));
    const withPayload = (mac: string | undefined) => {
      const parts = [...segments];
      parts[index] = changed;
      if (mac !== undefined) parts[parts.length - 1] = mac;
      return parts.join('.');
    };
    if (index < segments.length - 1) {
      variants.push({ how: 'payload changed, old signature kept', value: withPayload(undefined) });
      const signed = segments.slice(0, -1).map((s, i) => (i === index ? changed : s)).join('.');
      const mac = createHmac('sha256', randomBytes(32)).update(signed).digest('base64url');
      variants.push({ how: 'payload changed and re-signed with a foreign key', value: withPayload(mac) });
    } else {
      // No MAC after the payload: the whole thing is an unsigned payload.
      variants.push({ how: 'payload changed (no signature to keep)', value: withPayload(undefined) });
    }
    const header = decodeJsonSegment(segments[0] as string);
    if (segments.length === 3 && header && typeof header.alg === 'string') {
      variants.push({ how: 'JWT re-signed with alg "none"', value: `${encode({ ...header, alg: 'none' })}.${segments[1] === undefined ? '' : index === 1 ? changed : segments[1]}.` });
    }
  } else if (decodeJsonSegment(value)) {
    const payload = decodeJsonSegment(value) as Record<string, unknown>;
    variants.push({ how: 'payload changed (no signature to keep)', value: encode(keepClaims ? extend(payload) : mutate(payload)) });
  }
  const seen = new Set<string>([value]);
  return variants.filter((v) => v.value.length > 0 && !seen.has(v.value) && seen.add(v.value));
}
