import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { withFileLock, type FileLockOptions } from './file-lock.js';
import { decodeKeyList, type KeyInput } from './keys.js';

/** Where credentials live. There is deliberately no plaintext mode. */
/** `REDIS_ENCRYPTED` is `redisCredentialVault` from `fixation-guard/redis` (a fleet); it is not an environment setting. */
export type CredentialStorageMode = 'FILE_ENCRYPTED' | 'MEMORY_ONLY' | 'MEMORY_WITH_BACKUP' | 'REDIS_ENCRYPTED';
export const CREDENTIAL_STORAGE_MODES: readonly CredentialStorageMode[] = Object.freeze(['FILE_ENCRYPTED', 'MEMORY_ONLY', 'MEMORY_WITH_BACKUP'] as const);
export const DEFAULT_CREDENTIAL_STORAGE_MODE: CredentialStorageMode = 'FILE_ENCRYPTED';
export const DEFAULT_CREDENTIAL_STORAGE_PATH = '.fixation-guard/credentials.enc';

/** A credential as the app stores it (OAuth tokens and the like): any JSON object. */
export type StoredCredential = { [key: string]: unknown };

/**
 * The credential store, keyed by principal **and** account: Alice's `alice@example.com` and
 * a credential another principal stored for an account of the same name are two entries, so
 * a token that merely claims `alice@example.com` addresses nothing of Alice's. Apps reach it
 * through a session (`session.getCredential(email)`), which applies the session's ACL; the
 * vault itself does no access control.
 */
export interface CredentialVault {
  readonly mode: CredentialStorageMode;
  get(principal: string, account: string): Promise<StoredCredential | undefined>;
  set(principal: string, account: string, credential: StoredCredential): Promise<void>;
  delete(principal: string, account: string): Promise<boolean>;
}

/**
 * The entry key of (principal, account): length-prefixed, so no principal containing the
 * separator can pose as another (`a|b` + `c` vs `a` + `b|c`).
 *
 * @example
 * credentialKey('alice', 'Alice@Example.com'); // '5:alice|alice@example.com'
 */
export function credentialKey(principal: string, account: string): string {
  if (typeof principal !== 'string' || principal.length === 0) throw new TypeError('CredentialVault: `principal` must be a non-empty string');
  if (typeof account !== 'string' || account.trim().length === 0) throw new TypeError('CredentialVault: `account` must be a non-empty string');
  return `${principal.length}:${principal}|${normalizeEmail(account)}`;
}

export interface CredentialVaultOptions {
  /** The default value is `'FILE_ENCRYPTED'`. */
  mode?: CredentialStorageMode;
  /**
   * AES-256 key(s), 32 bytes each (base64 text or Buffer). The first encrypts, all decrypt.
   * Required for `FILE_ENCRYPTED` and `MEMORY_WITH_BACKUP`.
   */
  encryptionKey?: KeyInput | readonly KeyInput[];
  /** The encrypted file. The default value is `'.fixation-guard/credentials.enc'`. */
  path?: string;
  /**
   * The lock file (`<path>.lock`) that lets several processes share one `FILE_ENCRYPTED` file:
   * how old an abandoned lock of another host must be before it is broken, and how long to wait
   * for a live holder; `false` takes no lock (one process, one vault instance per file: two
   * writers without it lose each other's credentials). The default value is
   * `{ staleMs: 10_000, timeoutMs: 30_000 }`.
   */
  lock?: FileLockOptions | false;
}

const FILE_FORMAT = 'fixation-guard/credential-vault';
const FILE_VERSION = 1;
const IV_BYTES = 12;

/**
 * Email addresses compare case-insensitively, so `Alice@x` cannot slip past an ACL for `alice@x`.
 *
 * @example
 * normalizeEmail(' Alice@Example.com '); // 'alice@example.com'
 */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/**
 * Opens a credential vault. A file mode without a valid key, or a file the key cannot
 * decrypt, is a startup error naming `ENCRYPTION_KEY`: the vault never falls back to
 * plaintext and never overwrites a file it could not read.
 *
 * @example
 * const vault = await openCredentialVault({ mode: 'FILE_ENCRYPTED', encryptionKey: process.env.ENCRYPTION_KEY, path: './data/credentials.enc' });
 */
export async function openCredentialVault(options: CredentialVaultOptions = {}): Promise<CredentialVault> {
  const mode = options.mode ?? DEFAULT_CREDENTIAL_STORAGE_MODE;
  if (!CREDENTIAL_STORAGE_MODES.includes(mode)) {
    throw new Error(`openCredentialVault: CREDENTIAL_STORAGE_MODE (\`mode\`) must be one of ${CREDENTIAL_STORAGE_MODES.join(', ')}; got ${JSON.stringify(mode)}`);
  }
  if (mode === 'MEMORY_ONLY') return new MemoryVault(mode);
  const keys = decodeKeyList(options.encryptionKey, `openCredentialVault: ENCRYPTION_KEY (\`encryptionKey\`, required for CREDENTIAL_STORAGE_MODE=${mode})`, { exactBytes: 32 });
  const file = new EncryptedFile(options.path ?? DEFAULT_CREDENTIAL_STORAGE_PATH, keys);
  const initial = await file.read();
  if (mode === 'FILE_ENCRYPTED') return new FileVault(file, options.lock ?? {});
  const vault = new MemoryVault(mode, file);
  for (const [email, credential] of Object.entries(initial)) vault.entries.set(email, credential);
  return vault;
}

class MemoryVault implements CredentialVault {
  readonly entries = new Map<string, StoredCredential>();
  #backupQueue: Promise<void> = Promise.resolve();

  constructor(
    readonly mode: CredentialStorageMode,
    private readonly backup?: EncryptedFile,
  ) {}

  async get(principal: string, account: string): Promise<StoredCredential | undefined> {
    const found = this.entries.get(credentialKey(principal, account));
    return found === undefined ? undefined : structuredClone(found);
  }

  async set(principal: string, account: string, credential: StoredCredential): Promise<void> {
    this.entries.set(credentialKey(principal, account), structuredClone(credential));
    await this.#persist();
  }

  async delete(principal: string, account: string): Promise<boolean> {
    const existed = this.entries.delete(credentialKey(principal, account));
    if (existed) await this.#persist();
    return existed;
  }

  #persist(): Promise<void> {
    const backup = this.backup;
    if (!backup) return Promise.resolve();
    // Writes are chained so that the file always ends with the latest state.
    const next = this.#backupQueue.then(() => backup.write(Object.fromEntries(this.entries)));
    this.#backupQueue = next.catch(() => undefined);
    return next;
  }
}

class FileVault implements CredentialVault {
  readonly mode = 'FILE_ENCRYPTED' as const;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly file: EncryptedFile,
    private readonly lock: FileLockOptions | false,
  ) {}

  async get(principal: string, account: string): Promise<StoredCredential | undefined> {
    const key = credentialKey(principal, account);
    await this.#queue;
    return (await this.file.read())[key];
  }

  set(principal: string, account: string, credential: StoredCredential): Promise<void> {
    const key = credentialKey(principal, account);
    return this.#update(function setEntry(all) {
      all[key] = structuredClone(credential);
      return true;
    }).then(() => undefined);
  }

  delete(principal: string, account: string): Promise<boolean> {
    const key = credentialKey(principal, account);
    return this.#update(function deleteEntry(all) {
      if (!(key in all)) return false;
      delete all[key];
      return true;
    });
  }

  /**
   * Read-modify-write, one at a time: queued within this process, and under the file's lock
   * across processes (two instances of one app on one file lost each other's credentials
   * without it: the later write was built from a read taken before the earlier one landed).
   */
  #update(change: (all: Record<string, StoredCredential>) => boolean): Promise<boolean> {
    const { file, lock } = this;
    async function readModifyWrite(): Promise<boolean> {
      const all = await file.read();
      const changed = change(all);
      if (changed) await file.write(all);
      return changed;
    }
    const next = this.#queue.then(function lockedUpdate() {
      return lock === false ? readModifyWrite() : withFileLock(file.path, readModifyWrite, lock);
    });
    this.#queue = next.catch(() => undefined);
    return next;
  }
}

/** The encrypted file: one AES-256-GCM envelope around the JSON of every credential. */
class EncryptedFile {
  readonly #keys: { kid: string; key: Buffer }[];

  constructor(
    readonly path: string,
    keys: Buffer[],
  ) {
    this.#keys = keys.map((key) => ({ kid: keyId(key), key }));
  }

  async read(): Promise<Record<string, StoredCredential>> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw err;
    }
    let envelope: SealedEnvelope;
    try {
      envelope = JSON.parse(text) as SealedEnvelope;
    } catch {
      envelope = {} as SealedEnvelope;
    }
    if (envelope.format !== FILE_FORMAT || envelope.version !== FILE_VERSION) {
      throw new Error(`openCredentialVault: ${this.path} is not an encrypted credential vault; refusing to read or overwrite it (move it away or point CREDENTIAL_STORAGE_PATH elsewhere)`);
    }
    const entry = this.#keys.find((candidate) => candidate.kid === envelope.kid);
    if (!entry) {
      throw new Error(`openCredentialVault: ENCRYPTION_KEY does not match the key that encrypted ${this.path}; add the old key after the new one (comma-separated) to rotate`);
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', entry.key, Buffer.from(envelope.iv, 'base64'));
      decipher.setAAD(aad(envelope.kid));
      decipher.setAuthTag(Buffer.from(envelope.tag, 'base64'));
      const plain = Buffer.concat([decipher.update(Buffer.from(envelope.data, 'base64')), decipher.final()]);
      return JSON.parse(plain.toString('utf8')) as Record<string, StoredCredential>;
    } catch (err) {
      throw new Error(`openCredentialVault: ${this.path} failed authentication with ENCRYPTION_KEY (tampered or corrupt); refusing to use it`, { cause: err });
    }
  }

  async write(all: Record<string, StoredCredential>): Promise<void> {
    const { kid, key } = this.#keys[0] as { kid: string; key: Buffer };
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(aad(kid));
    const data = Buffer.concat([cipher.update(JSON.stringify(all), 'utf8'), cipher.final()]);
    const envelope: SealedEnvelope = {
      format: FILE_FORMAT,
      version: FILE_VERSION,
      kid,
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      data: data.toString('base64'),
    };
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    // Write-then-rename: a crash leaves the old file or the new one, never half of either.
    const temp = `${this.path}.${randomBytes(6).toString('hex')}.tmp`;
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(JSON.stringify(envelope));
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await chmod(temp, 0o600); // the umask cannot widen it, but be explicit
      await rename(temp, this.path);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }
}

function keyId(key: Buffer): string {
  return createHmac('sha256', key).update('fixation-guard/credential-vault key id').digest('base64url').slice(0, 12);
}

function aad(kid: string, context = ''): Buffer {
  // The file's envelope has no context: its AAD is what it always was.
  return Buffer.from(context === '' ? `${FILE_FORMAT}:v${FILE_VERSION}:${kid}` : `${FILE_FORMAT}:v${FILE_VERSION}:${kid}:${context}`);
}

/**
 * An in-memory vault (`MEMORY_ONLY`): credentials die with the process.
 *
 * @example
 * const guard = createMcpSessionGuard({ sessionSecret, vault: memoryCredentialVault(), createServer });
 */
export function memoryCredentialVault(): CredentialVault {
  return new MemoryVault('MEMORY_ONLY');
}

/** One AES-256-GCM envelope: the vault file's format, also what `redisCredentialVault` stores per entry. */
export interface SealedEnvelope {
  format: typeof FILE_FORMAT;
  version: typeof FILE_VERSION;
  kid: string;
  iv: string;
  tag: string;
  data: string;
}

/** Vault keys with their key ids, the first encrypting. */
export type VaultKeyRing = readonly { kid: string; key: Buffer }[];

export function vaultKeyRing(keys: readonly Buffer[]): VaultKeyRing {
  return keys.map((key) => ({ kid: keyId(key), key }));
}

/**
 * Encrypts `plain` under the ring's first key. `context` is authenticated with it (AAD): an
 * envelope moved to another entry (another principal's) fails to open.
 */
export function sealEnvelope(ring: VaultKeyRing, plain: string, context = ''): SealedEnvelope {
  const { kid, key } = ring[0] as { kid: string; key: Buffer };
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad(kid, context));
  const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return { format: FILE_FORMAT, version: FILE_VERSION, kid, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') };
}

/** Decrypts an envelope, or throws: wrong format, unknown key id, or failed authentication. */
export function openEnvelope(ring: VaultKeyRing, envelope: SealedEnvelope, context = ''): string {
  if (envelope?.format !== FILE_FORMAT || envelope.version !== FILE_VERSION) throw new Error('not a credential envelope');
  const entry = ring.find((candidate) => candidate.kid === envelope.kid);
  if (!entry) throw new Error('unknown key id');
  const decipher = createDecipheriv('aes-256-gcm', entry.key, Buffer.from(envelope.iv, 'base64'));
  decipher.setAAD(aad(envelope.kid, context));
  decipher.setAuthTag(Buffer.from(envelope.tag, 'base64'));
  return Buffer.concat([decipher.update(Buffer.from(envelope.data, 'base64')), decipher.final()]).toString('utf8');
}
