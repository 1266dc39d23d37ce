import { randomBytes } from 'node:crypto';

/**
 * The command the docs and error messages give for generating a key.
 *
 * @example
 * console.error(`Generate ENCRYPTION_KEY with: ${KEY_GENERATION_COMMAND}`);
 */
export const KEY_GENERATION_COMMAND = `node -e "console.log(require('crypto').randomBytes(32).toString('base64'))"`;

/** Bytes a signing or encryption key must have: below 32, brute force gets within reach. */
export const MIN_KEY_BYTES = 32;

const BASE64_RE = /^[A-Za-z0-9+/_-]+={0,2}$/;

/** A key given as configuration: base64/base64url text (what the env holds) or raw bytes. */
export type KeyInput = string | Buffer;

/**
 * Decodes one key, or explains in a sentence why it is not one. The explanation never
 * contains the key itself: error messages end up in logs.
 */
export function decodeKey(value: KeyInput, options: { exactBytes?: number; minBytes?: number } = {}): Buffer | string {
  let bytes: Buffer;
  if (Buffer.isBuffer(value)) {
    bytes = Buffer.from(value);
  } else if (typeof value === 'string') {
    const text = value.trim();
    if (text.length === 0) return 'is empty';
    if (!BASE64_RE.test(text)) return 'is not base64 (it must be the base64 text of random bytes)';
    bytes = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  } else {
    return `must be a base64 string or a Buffer; got ${typeof value}`;
  }
  if (options.exactBytes !== undefined && bytes.length !== options.exactBytes) {
    return `must decode to exactly ${options.exactBytes} bytes; got ${bytes.length}`;
  }
  const min = options.minBytes ?? MIN_KEY_BYTES;
  if (bytes.length < min) return `must decode to at least ${min} bytes; got ${bytes.length}`;
  return bytes;
}

/**
 * Decodes a key list (`'k1,k2'`, one key, or an array), the first being the current key and
 * the others still accepted during a rotation. Throws an `Error` whose message starts with
 * `name` (the variable or option) and never shows key material.
 */
export function decodeKeyList(value: KeyInput | readonly KeyInput[] | undefined, name: string, options: { exactBytes?: number } = {}): Buffer[] {
  const items: KeyInput[] =
    value === undefined
      ? []
      : Array.isArray(value)
        ? [...(value as readonly KeyInput[])]
        : typeof value === 'string'
          ? value.split(',').filter((part) => part.trim().length > 0)
          : [value as Buffer];
  if (items.length === 0) throw new Error(`${name} is not set; generate a key with: ${KEY_GENERATION_COMMAND}`);
  return items.map(function decodeOneKey(item, index) {
    const decoded = decodeKey(item, options);
    if (typeof decoded === 'string') {
      const which = items.length > 1 ? ` (key ${index + 1} of ${items.length})` : '';
      throw new Error(`${name}${which} ${decoded}; generate a key with: ${KEY_GENERATION_COMMAND}`);
    }
    return decoded;
  });
}

/**
 * A random 32-byte key as base64: what KEY_GENERATION_COMMAND prints.
 *
 * @example
 * console.log(`SESSION_SECRET=${generateKey()}`);
 */
export function generateKey(): string {
  return randomBytes(MIN_KEY_BYTES).toString('base64');
}
