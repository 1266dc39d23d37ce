/**
 * One process of the multi-process vault test: opens the FILE_ENCRYPTED vault at VAULT_PATH and
 * stores COUNT credentials named `<PREFIX>-<n>@example.com`, all at once, then prints `done`.
 *
 *   VAULT_PATH=… ENCRYPTION_KEY=… PREFIX=a COUNT=40 node --import tsx test/support/vault-writer.ts
 */
import { openCredentialVault } from '../../src/mcp/vault.js';

const vault = await openCredentialVault({ mode: 'FILE_ENCRYPTED', encryptionKey: process.env.ENCRYPTION_KEY, path: process.env.VAULT_PATH });
const prefix = process.env.PREFIX ?? 'p';
const count = Number(process.env.COUNT ?? 40);
await Promise.all(Array.from({ length: count }, (_, n) => vault.set('fleet-user', `${prefix}-${n}@example.com`, { access_token: `${prefix}-token-${n}` })));
console.log('done');
