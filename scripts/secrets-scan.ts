/**
 * The secrets scan over everything a test run printed: no raw session id, signed cookie,
 * bearer token, JWT or test secret may appear in any log line, warning or audit event the
 * library wrote while the tests ran. `run-tests.ts` feeds it the run's whole output.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface SecretFinding {
  kind: string;
  /** The finding, shortened: the scan's own report never repeats a whole secret. */
  excerpt: string;
  line: number;
}

const PATTERNS: Array<[kind: string, pattern: RegExp]> = [
  ['signed session cookie', /s(?::|%3A)[A-Za-z0-9_-]{20,}\.[A-Za-z0-9+/_-]{27,}/g],
  ['bearer token', /Bearer\s+[A-Za-z0-9._~+/-]{16,}/g],
  ['JWT', /eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*/g],
  // Session ids in base64url: express-session's are 32 characters (24 random bytes), the guard's
  // 43 (32 bytes), the Redis `spread` layout's longer still. Hashes in audit events are 16.
  ['raw session id', /(?<![A-Za-z0-9_-])(?=[A-Za-z0-9_-]*[A-Z])(?=[A-Za-z0-9_-]*[a-z])(?=[A-Za-z0-9_-]*[0-9])[A-Za-z0-9_-]{32,}(?![A-Za-z0-9_-])/g],
];

/** Secret-looking string literals (secrets, keys, tokens of 16+ characters) in the given source folders. */
export function knownSecrets(folders: readonly string[]): string[] {
  const found = new Set<string>();
  const literal = /\b\w*(?:secret|key|token)\w*\s*[:=]\s*(['"`])([^'"`\n$]{16,})\1/gi;
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else if (entry.endsWith('.ts')) for (const m of readFileSync(path, 'utf8').matchAll(literal)) found.add(m[2] as string);
    }
  };
  for (const folder of folders) walk(folder);
  return [...found];
}

const shorten = (text: string) => (text.length <= 12 ? `${text.slice(0, 3)}…` : `${text.slice(0, 8)}…(${text.length} chars)`);

export function scanForSecrets(output: string, secrets: readonly string[]): SecretFinding[] {
  const findings: SecretFinding[] = [];
  output.split('\n').forEach((text, index) => {
    for (const [kind, pattern] of PATTERNS) {
      for (const m of text.matchAll(pattern)) findings.push({ kind, excerpt: shorten(m[0]), line: index + 1 });
    }
    for (const secret of secrets) if (text.includes(secret)) findings.push({ kind: 'test secret', excerpt: shorten(secret), line: index + 1 });
  });
  return findings;
}
