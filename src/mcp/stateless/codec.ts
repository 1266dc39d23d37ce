import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Auditor } from '../../audit/index.js';
import { parseDuration, systemClock, type Clock } from '../../clock/index.js';
import { decodeKey, KEY_GENERATION_COMMAND, type KeyInput } from '../keys.js';
import type { ReplayGuard } from './replay.js';

/**
 * The 2026-07-28 revision's `requestState` round-trips through the client, so what comes back is
 * attacker-controlled. This codec seals it: integrity always (HMAC-SHA256, or AES-256-GCM when
 * `encrypt` is on, the default), bound to the principal it was minted for (required), to an
 * audience and to the originating request, expiring, with key ids for rotation and, optionally,
 * single use. Sub-keys come from HKDF-SHA256 per key id and purpose, so no two uses share bytes.
 *
 * Wire forms (every segment strict, unpadded base64url; any other spelling is refused):
 *   signed:    fgs1.<kid>.<claims>.<hmac>
 *   encrypted: fge1.<kid>.<iv>.<ciphertext>.<gcm tag>
 */

/** Why a state was refused. It goes to the audit log and the server, never to the client. */
export type RequestStateRefusal =
  | 'malformed'
  | 'unknown_key'
  | 'integrity'
  | 'expired'
  | 'principal_mismatch'
  | 'audience_mismatch'
  | 'request_mismatch'
  | 'replayed'
  | 'replay_store_unavailable';

/** What a state is bound to, at mint and again at open. */
export interface RequestStateBinding {
  /** The authenticated principal: required, so state minted for one user is refused for another. */
  principal: string;
  /** The resource this server is (its URL). The default value is the codec's `audience` option. */
  audience?: string;
  /** The originating request (e.g. `tools/call\0deploy`): a state minted for one call is refused on another. */
  request?: string;
}

export type RequestStateOpening<T> =
  | { ok: true; payload: T; expiresAt: number; keyId: string }
  | { ok: false; reason: RequestStateRefusal };

export interface RequestStateKey {
  /** A short public name (`[A-Za-z0-9_-]{1,32}`), written into every state sealed with this key. */
  id: string;
  /** 32+ random bytes, base64 text or a Buffer. */
  secret: KeyInput;
}

export interface RequestStateCodecOptions {
  /**
   * The key ring: the first key seals, every key opens. Rotate by putting a new key first and
   * keeping the old one until the longest `ttl` has passed, then removing it.
   */
  keys: readonly RequestStateKey[];
  /** How long a state stays valid (`'10m'` or ms). The default value is `'10m'`. */
  ttl?: number | string;
  /** Encrypt the payload (AES-256-GCM) so the client cannot read it. The default value is `true`. */
  encrypt?: boolean;
  /** The audience a state is bound to when the binding does not name one. The default value is `''`. */
  audience?: string;
  /** Refuse a state the second time it is opened. The default value is `undefined` (reusable until expiry). */
  replay?: ReplayGuard;
  /** Every refusal is audited as `request_state_rejected` with its reason, never with the state. */
  audit?: Auditor;
  /** The default value is the system clock. */
  clock?: Clock;
}

export interface SealedRequestStateCodec<T = unknown> {
  /** Seals `payload` for `binding`. */
  mint(payload: T, binding: RequestStateBinding): string;
  /** Opens a state for `binding`; refusals are audited. */
  open(state: unknown, binding: RequestStateBinding, context?: { ip?: string }): Promise<RequestStateOpening<T>>;
  /** The key id that seals new states. */
  readonly currentKeyId: string;
}

export const DEFAULT_REQUEST_STATE_TTL_MS = 10 * 60_000;
/** States longer than this are refused before any work. */
export const MAX_REQUEST_STATE_CHARS = 65_536;

const SIGNED_PREFIX = 'fgs1';
const ENCRYPTED_PREFIX = 'fge1';
const HKDF_SALT = Buffer.from('fixation-guard/mcp requestState v1');
const KEY_ID_RE = /^[A-Za-z0-9_-]{1,32}$/;
const B64URL_RE = /^[A-Za-z0-9_-]*$/;
const TAG_BYTES = 16;
const BIND_TAG_BYTES = 16;
const IV_BYTES = 12;
const JTI_BYTES = 16;

interface DerivedKey {
  id: string;
  mac: Buffer;
  enc: Buffer;
  bind: Buffer;
}

interface Claims {
  v: 1;
  jti: string;
  iat: number;
  exp: number;
  bp: string;
  ba: string;
  br: string;
  d: unknown;
}

function subKey(secret: Buffer, purpose: string, keyId: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, HKDF_SALT, `${purpose}\0${keyId}`, 32));
}

/** Strict base64url: the alphabet only, no padding, and the one spelling that re-encodes to itself. */
function strictDecode(segment: string, exactBytes?: number): Buffer | undefined {
  if (!B64URL_RE.test(segment)) return undefined;
  const bytes = Buffer.from(segment, 'base64url');
  if (bytes.toString('base64url') !== segment) return undefined;
  if (exactBytes !== undefined && bytes.length !== exactBytes) return undefined;
  return bytes;
}

function parseClaims(bytes: Buffer): Claims | undefined {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const c = value as Record<string, unknown>;
  if (
    c.v !== 1 ||
    typeof c.jti !== 'string' ||
    !Number.isSafeInteger(c.iat) ||
    !Number.isSafeInteger(c.exp) ||
    typeof c.bp !== 'string' ||
    typeof c.ba !== 'string' ||
    typeof c.br !== 'string' ||
    !('d' in c)
  ) {
    return undefined;
  }
  return c as unknown as Claims;
}

function checkKeys(keys: readonly RequestStateKey[]): DerivedKey[] {
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new TypeError(`createRequestStateCodec: \`keys\` must be a non-empty array of { id, secret }; generate a secret with: ${KEY_GENERATION_COMMAND}`);
  }
  const seen = new Set<string>();
  return keys.map(function deriveOne(key, index) {
    if (typeof key !== 'object' || key === null || typeof key.id !== 'string' || !KEY_ID_RE.test(key.id)) {
      throw new TypeError(`createRequestStateCodec: \`keys[${index}].id\` must match [A-Za-z0-9_-]{1,32}; got ${JSON.stringify((key as { id?: unknown } | null)?.id)}`);
    }
    if (seen.has(key.id)) throw new Error(`createRequestStateCodec: \`keys\` has the id ${JSON.stringify(key.id)} twice; every key needs its own id`);
    seen.add(key.id);
    const secret = decodeKey(key.secret);
    if (typeof secret === 'string') throw new Error(`createRequestStateCodec: \`keys[${index}].secret\` (id ${JSON.stringify(key.id)}) ${secret}; generate one with: ${KEY_GENERATION_COMMAND}`);
    return { id: key.id, mac: subKey(secret, 'mac', key.id), enc: subKey(secret, 'enc', key.id), bind: subKey(secret, 'bind', key.id) };
  });
}

/**
 * A key ring from plain secrets (e.g. `REQUEST_STATE_KEYS=new,old`), each named by a short hash
 * of itself: ids stay the same when the list is reordered during a rotation, and name no secret.
 *
 * @example
 * const codec = createRequestStateCodec({ keys: requestStateKeyRing(process.env.REQUEST_STATE_KEYS!.split(',')) });
 */
export function requestStateKeyRing(secrets: readonly KeyInput[]): RequestStateKey[] {
  return secrets.map(function nameKey(secret, index) {
    const bytes = decodeKey(secret);
    if (typeof bytes === 'string') throw new Error(`requestStateKeyRing: secret ${index + 1} of ${secrets.length} ${bytes}; generate one with: ${KEY_GENERATION_COMMAND}`);
    return { id: createHash('sha256').update('fixation-guard/mcp requestState key id\0').update(bytes).digest('base64url').slice(0, 11), secret: bytes };
  });
}

/**
 * Creates the sealed `requestState` codec.
 *
 * @example
 * const codec = createRequestStateCodec({ keys: [{ id: '2026-11', secret: process.env.STATE_KEY! }], replay: redisReplayGuard({ client }) });
 * const state = codec.mint({ step: 2 }, { principal: 'alice', request: 'tools/call\0deploy' });
 * const opened = await codec.open(state, { principal: 'bob', request: 'tools/call\0deploy' }); // { ok: false, reason: 'principal_mismatch' }
 */
export function createRequestStateCodec<T = unknown>(options: RequestStateCodecOptions): SealedRequestStateCodec<T> {
  if (typeof options !== 'object' || options === null) throw new TypeError('createRequestStateCodec: `options` must be an object');
  const keys = checkKeys(options.keys);
  const byId = new Map(keys.map((key) => [key.id, key]));
  const current = keys[0] as DerivedKey;
  const ttlMs = options.ttl === undefined ? DEFAULT_REQUEST_STATE_TTL_MS : parseDuration(options.ttl, 'createRequestStateCodec: `ttl`');
  const encrypt = options.encrypt !== false;
  const defaultAudience = options.audience ?? '';
  if (typeof defaultAudience !== 'string') throw new TypeError(`createRequestStateCodec: \`audience\` must be a string; got ${typeof defaultAudience}`);
  const clock = options.clock ?? systemClock;

  function bindTag(key: DerivedKey, kind: string, value: string): Buffer {
    return createHmac('sha256', key.bind).update(`${kind}\0${value}`).digest().subarray(0, BIND_TAG_BYTES);
  }

  function checkBinding(binding: RequestStateBinding): void {
    if (typeof binding !== 'object' || binding === null || typeof binding.principal !== 'string' || binding.principal.length === 0) {
      // Unbound state is the SDK codec's default; here it cannot be made at all.
      throw new TypeError('requestState codec: `binding.principal` must be a non-empty string (state is always bound to the principal it was minted for)');
    }
  }

  function mint(payload: T, binding: RequestStateBinding): string {
    checkBinding(binding);
    const now = clock.now();
    const claims: Claims = {
      v: 1,
      jti: randomBytes(JTI_BYTES).toString('base64url'),
      iat: now,
      exp: now + ttlMs,
      bp: bindTag(current, 'principal', binding.principal).toString('base64url'),
      ba: bindTag(current, 'audience', binding.audience ?? defaultAudience).toString('base64url'),
      br: bindTag(current, 'request', binding.request ?? '').toString('base64url'),
      d: payload,
    };
    const plain = Buffer.from(JSON.stringify(claims));
    if (!encrypt) {
      const head = `${SIGNED_PREFIX}.${current.id}.${plain.toString('base64url')}`;
      return `${head}.${createHmac('sha256', current.mac).update(head).digest('base64url')}`;
    }
    const head = `${ENCRYPTED_PREFIX}.${current.id}`;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', current.enc, iv);
    cipher.setAAD(Buffer.from(head));
    const sealed = Buffer.concat([cipher.update(plain), cipher.final()]);
    return `${head}.${iv.toString('base64url')}.${sealed.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}`;
  }

  /** Integrity first: nothing of an unauthenticated state is read. */
  function unseal(state: string): { ok: true; key: DerivedKey; claims: Claims } | { ok: false; reason: 'malformed' | 'unknown_key' | 'integrity' } {
    if (state.length > MAX_REQUEST_STATE_CHARS) return { ok: false, reason: 'malformed' };
    const parts = state.split('.');
    const [prefix, keyId] = parts;
    if (keyId === undefined || !KEY_ID_RE.test(keyId)) return { ok: false, reason: 'malformed' };
    // A state of the other form is refused: a downgrade from encrypted to signed is not a choice the client gets.
    if (prefix !== (encrypt ? ENCRYPTED_PREFIX : SIGNED_PREFIX)) return { ok: false, reason: 'malformed' };
    const key = byId.get(keyId);
    if (!key) return { ok: false, reason: 'unknown_key' };
    let plain: Buffer;
    if (!encrypt) {
      if (parts.length !== 4) return { ok: false, reason: 'malformed' };
      const body = strictDecode(parts[2] as string);
      const mac = strictDecode(parts[3] as string, 32);
      if (!body || !mac) return { ok: false, reason: 'malformed' };
      const expected = createHmac('sha256', key.mac).update(`${prefix}.${keyId}.${parts[2]}`).digest();
      if (!timingSafeEqual(expected, mac)) return { ok: false, reason: 'integrity' };
      plain = body;
    } else {
      if (parts.length !== 5) return { ok: false, reason: 'malformed' };
      const iv = strictDecode(parts[2] as string, IV_BYTES);
      const sealed = strictDecode(parts[3] as string);
      const tag = strictDecode(parts[4] as string, TAG_BYTES);
      if (!iv || !sealed || !tag) return { ok: false, reason: 'malformed' };
      try {
        const decipher = createDecipheriv('aes-256-gcm', key.enc, iv, { authTagLength: TAG_BYTES });
        decipher.setAAD(Buffer.from(`${prefix}.${keyId}`));
        decipher.setAuthTag(tag);
        plain = Buffer.concat([decipher.update(sealed), decipher.final()]);
      } catch {
        return { ok: false, reason: 'integrity' };
      }
    }
    const claims = parseClaims(plain);
    // Authenticated but unreadable: only a key holder could have made it, still never trusted.
    if (!claims) return { ok: false, reason: 'malformed' };
    return { ok: true, key, claims };
  }

  function tagMatches(key: DerivedKey, kind: string, value: string, given: string): boolean {
    const decoded = strictDecode(given, BIND_TAG_BYTES);
    return decoded !== undefined && timingSafeEqual(bindTag(key, kind, value), decoded);
  }

  async function open(state: unknown, binding: RequestStateBinding, context: { ip?: string } = {}): Promise<RequestStateOpening<T>> {
    checkBinding(binding);
    const refuse = (reason: RequestStateRefusal, keyId?: string): RequestStateOpening<T> => {
      options.audit?.emit('request_state_rejected', {
        principal: binding.principal,
        ip: context.ip,
        reason,
        detail: { keyId: keyId ?? null, length: typeof state === 'string' ? state.length : null, request: (binding.request ?? '').split('\0').slice(0, 2).join(' ').slice(0, 200) },
      });
      return { ok: false, reason };
    };
    if (typeof state !== 'string') return refuse('malformed');
    const unsealed = unseal(state);
    if (!unsealed.ok) return refuse(unsealed.reason);
    const { key, claims } = unsealed;
    if (clock.now() >= claims.exp) return refuse('expired', key.id);
    if (!tagMatches(key, 'principal', binding.principal, claims.bp)) return refuse('principal_mismatch', key.id);
    if (!tagMatches(key, 'audience', binding.audience ?? defaultAudience, claims.ba)) return refuse('audience_mismatch', key.id);
    if (!tagMatches(key, 'request', binding.request ?? '', claims.br)) return refuse('request_mismatch', key.id);
    if (options.replay) {
      let first: boolean;
      try {
        first = await options.replay.claim(claims.jti, claims.exp);
      } catch {
        // Fail closed: a store that cannot say "first use" cannot let a single-use state through.
        return refuse('replay_store_unavailable', key.id);
      }
      if (!first) return refuse('replayed', key.id);
    }
    return { ok: true, payload: claims.d as T, expiresAt: claims.exp, keyId: key.id };
  }

  return { mint, open, currentKeyId: current.id };
}
