import { decodeKeyList, type KeyInput } from '../mcp/keys.js';
import { credentialKey, openEnvelope, sealEnvelope, vaultKeyRing, type CredentialVault, type SealedEnvelope, type StoredCredential } from '../mcp/vault.js';
import { withDeadline } from './errors.js';
import { DEFAULT_PREFIX, validatePrefix } from './keys.js';
import { DEFAULT_OPERATION_TIMEOUT_MS, checkClient, checkOptionsObject, durationMs } from './options.js';
import { LuaScript, type RedisScriptingClient } from './scripts.js';

const WHO = 'redisCredentialVault';

const HGET = new LuaScript('vaultGet', `return redis.call('HGET', KEYS[1], ARGV[1])`);
const HSET = new LuaScript('vaultSet', `return redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])`);
const HDEL = new LuaScript('vaultDelete', `return redis.call('HDEL', KEYS[1], ARGV[1])`);

export interface RedisCredentialVaultOptions {
  /** A connected node-redis client. */
  client: unknown;
  /** AES-256 key(s), 32 bytes each (base64 or Buffer): the first encrypts, all decrypt. Required (ENCRYPTION_KEY). */
  encryptionKey: KeyInput | readonly KeyInput[];
  /** The deployment's prefix, with a hash tag. The default value is `'fg:{fg}:'`. */
  prefix?: string;
  /** The default value is `'2s'`. */
  operationTimeout?: number | string;
}

/**
 * A credential vault for a fleet: every entry is its own AES-256-GCM envelope (the format of
 * `FILE_ENCRYPTED`, with the entry's key authenticated alongside, so an envelope copied to
 * another principal's entry does not open), stored as one field of one Redis hash. Writes of
 * several processes are single `HSET`s: none can lose another's, unlike two processes
 * rewriting one file. A missing or bad key is a startup error; there is no plaintext mode.
 *
 * @example
 * import { redisCredentialVault } from 'fixation-guard/redis';
 * const vault = redisCredentialVault({ client, encryptionKey: process.env.ENCRYPTION_KEY! });
 */
export function redisCredentialVault(options: RedisCredentialVaultOptions): CredentialVault {
  checkOptionsObject(options, WHO, 'an options object with a `client` and an `encryptionKey`');
  const scripting: RedisScriptingClient = checkClient(options.client, WHO);
  const ring = vaultKeyRing(decodeKeyList(options.encryptionKey, `${WHO}: ENCRYPTION_KEY (\`encryptionKey\`)`, { exactBytes: 32 }));
  const hash = `${validatePrefix(options.prefix ?? DEFAULT_PREFIX, WHO)}mcp:vault`;
  const timeout = durationMs(options.operationTimeout, DEFAULT_OPERATION_TIMEOUT_MS, WHO, 'operationTimeout');
  const run = (name: string, script: LuaScript, args: string[]) => withDeadline(WHO, name, timeout, script.run(scripting, [hash], args));
  return {
    mode: 'REDIS_ENCRYPTED',
    async get(principal, account) {
      const field = credentialKey(principal, account);
      const stored = await run('get', HGET, [field]);
      if (stored === null || stored === undefined) return undefined;
      try {
        return JSON.parse(openEnvelope(ring, JSON.parse(String(stored)) as SealedEnvelope, field)) as StoredCredential;
      } catch (err) {
        throw new Error(`${WHO}: a stored credential failed authentication with ENCRYPTION_KEY (tampered, moved, or another key); refusing to use it`, { cause: err });
      }
    },
    async set(principal, account, credential) {
      const field = credentialKey(principal, account);
      await run('set', HSET, [field, JSON.stringify(sealEnvelope(ring, JSON.stringify(credential), field))]);
    },
    async delete(principal, account) {
      return Number(await run('delete', HDEL, [credentialKey(principal, account)])) === 1;
    },
  };
}
