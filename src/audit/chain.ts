import { createHash, createHmac } from 'node:crypto';
import { deriveKey } from '../util/hash.js';
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';

/** The `prev` of the first line of a chain: there is no line before it. */
export const CHAIN_START = '0'.repeat(64);

/**
 * The link from one JSONL line to the next: SHA-256 of the previous line's exact text, or an
 * HMAC-SHA256 under `key` when one is given. With a key, whoever edits the file without it
 * cannot re-link the lines after the edit; without one, the chain still shows a line that
 * was removed, edited or moved by anything that did not also rewrite every later line.
 */
export function chainLink(previousLine: string | undefined, key?: Buffer): string {
  if (previousLine === undefined) return CHAIN_START;
  return (key ? createHmac('sha256', key) : createHash('sha256')).update(previousLine).digest('hex');
}

/** The last complete line of a file (without its newline), or `undefined` for a missing or empty file. */
export function lastLineOf(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const size = fstatSync(fd).size;
    // Audit lines are short; read backwards in growing windows until a whole line is in view.
    for (let window = 4096; ; window *= 4) {
      const start = Math.max(0, size - window);
      const buffer = Buffer.alloc(size - start);
      readSync(fd, buffer, 0, buffer.length, start);
      const text = buffer.toString('utf8').replace(/\n+$/, '');
      const cut = text.lastIndexOf('\n');
      if (cut >= 0) return text.slice(cut + 1);
      if (start === 0) return text.length > 0 ? text : undefined;
    }
  } finally {
    closeSync(fd);
  }
}

export type ChainProblemKind = 'not-json' | 'missing-link' | 'broken-link';

export interface ChainProblem {
  /** 1-based line number in the file. */
  line: number;
  kind: ChainProblemKind;
  /** What a person reads: which line, and what that means (a line before it removed, edited or moved). */
  message: string;
}

export interface ChainReport {
  ok: boolean;
  lines: number;
  problems: ChainProblem[];
  /**
   * The link a next line would carry. Record it somewhere the log's writer cannot reach (a
   * ticket, another system): a chain cannot by itself show that its last lines were cut off.
   */
  head: string;
}

/**
 * Checks a JSONL audit file written by `jsonlSink`: every line must carry, in `prev`, the
 * link of the line before it. Reports each line where the chain breaks.
 */
export function verifyAuditChain(text: string, options: { key?: string | Buffer } = {}): ChainReport {
  const key = chainKeyOf(options.key);
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const problems: ChainProblem[] = [];
  let previous: string | undefined;
  lines.forEach((line, index) => {
    const number = index + 1;
    let prev: unknown;
    try {
      prev = (JSON.parse(line) as { prev?: unknown }).prev;
    } catch {
      problems.push({ line: number, kind: 'not-json', message: `line ${number} is not a JSON object: edited or truncated` });
      previous = line;
      return;
    }
    if (typeof prev !== 'string') {
      problems.push({ line: number, kind: 'missing-link', message: `line ${number} carries no \`prev\` link: not written by a chained sink, or edited` });
    } else if (prev !== chainLink(previous, key)) {
      problems.push({
        line: number,
        kind: 'broken-link',
        message:
          index === 0
            ? `line 1 does not start a chain: lines before it were removed`
            : `line ${number} does not follow line ${index}: a line between them was removed, line ${index} was edited, or lines were reordered`,
      });
    }
    previous = line;
  });
  return { ok: problems.length === 0, lines: lines.length, problems, head: chainLink(previous, key) };
}

/** `verifyAuditChain` over a file. */
export function verifyAuditFile(path: string, options: { key?: string | Buffer } = {}): ChainReport {
  return verifyAuditChain(readFileSync(path, 'utf8'), options);
}

/** The link key derived from the `chainKey` a sink was given (the same derivation on both sides). */
export function chainKeyOf(secret: string | Buffer | undefined): Buffer | undefined {
  return secret === undefined ? undefined : deriveKey(secret, 'audit-chain');
}
