import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { Auditor, jsonlSink, verifyAuditChain, verifyAuditFile } from '../../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'fg-audit-chain-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

/** A chained file of `count` events, written by the real sink through an Auditor. */
function chainedFile(count: number, chainKey?: string): { path: string; lines: string[] } {
  const path = join(dir, `audit-${files++}.jsonl`);
  const sink = jsonlSink(path, chainKey === undefined ? {} : { chainKey });
  const auditor = new Auditor({ sinks: [sink], hashSecret: 'hash-secret-for-the-chain-tests-0123' });
  for (let i = 0; i < count; i++) auditor.emit(i % 2 ? 'login' : 'logout', { sessionId: `id-${i}`, principal: `user-${i}` });
  sink.flush();
  return { path, lines: readFileSync(path, 'utf8').trimEnd().split('\n') };
}

const text = (lines: string[]) => `${lines.join('\n')}\n`;

describe('tamper-evident audit chain', () => {
  it('an untouched file verifies, and a sink reopened on it goes on with the same chain', () => {
    const { path, lines } = chainedFile(5);
    assert.equal(lines.length, 5);
    const first = verifyAuditFile(path);
    assert.deepEqual({ ok: first.ok, lines: first.lines, problems: first.problems }, { ok: true, lines: 5, problems: [] });
    // A restart: a new sink on the same file links its first line to the file's last one.
    const again = jsonlSink(path);
    new Auditor({ sinks: [again] }).emit('login', { principal: 'carol' });
    again.flush();
    const after = verifyAuditFile(path);
    assert.equal(after.lines, 6);
    assert.equal(after.ok, true, JSON.stringify(after.problems));
    assert.notEqual(after.head, first.head);
  });

  it('finds a removed line, an edited line, two swapped lines and a cut-off start — at the line where the chain breaks', () => {
    const { lines } = chainedFile(6);
    const removed = verifyAuditChain(text([...lines.slice(0, 2), ...lines.slice(3)]));
    assert.equal(removed.ok, false);
    assert.deepEqual(removed.problems.map((p) => [p.line, p.kind]), [[3, 'broken-link']]);

    const edited = [...lines];
    edited[1] = (edited[1] as string).replace('"principal":"user-1"', '"principal":"mallory"');
    assert.notEqual(edited[1], lines[1], 'the edit changed the line');
    assert.deepEqual(verifyAuditChain(text(edited)).problems.map((p) => [p.line, p.kind]), [[3, 'broken-link']]);

    const swapped = [...lines];
    [swapped[2], swapped[3]] = [swapped[3] as string, swapped[2] as string];
    assert.equal(verifyAuditChain(text(swapped)).ok, false);

    const cut = verifyAuditChain(text(lines.slice(2)));
    assert.deepEqual(cut.problems.map((p) => [p.line, p.kind]), [[1, 'broken-link']]);
    assert.match(cut.problems[0]?.message ?? '', /removed/);

    const garbage = verifyAuditChain(text([...lines.slice(0, 3), '{"type":"login"', ...lines.slice(3)]));
    assert.deepEqual(garbage.problems.map((p) => p.kind), ['not-json', 'broken-link']);
  });

  it('property: any single change to the file (drop, duplicate, swap, byte edit) is found, or leaves the file as it was', () => {
    const { lines } = chainedFile(8);
    const original = text(lines);
    const head = verifyAuditChain(original).head;
    const lastLineStart = original.length - (lines[7] as string).length - 1;
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('drop' as const), at: fc.nat(7) }),
      fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(7) }),
      fc.record({ kind: fc.constant('swap' as const), at: fc.nat(6) }),
      fc.record({ kind: fc.constant('byte' as const), at: fc.nat(original.length - 2), byte: fc.integer({ min: 0x20, max: 0x7e }) }),
    );
    fc.assert(
      fc.property(mutation, (m) => {
        let changed: string;
        if (m.kind === 'byte') {
          changed = original.slice(0, m.at) + String.fromCharCode(m.byte) + original.slice(m.at + 1);
        } else {
          const copy = [...lines];
          if (m.kind === 'drop') copy.splice(m.at, 1);
          if (m.kind === 'duplicate') copy.splice(m.at, 0, copy[m.at] as string);
          if (m.kind === 'swap') [copy[m.at], copy[m.at + 1]] = [copy[m.at + 1] as string, copy[m.at] as string];
          changed = text(copy);
        }
        const report = verifyAuditChain(changed);
        if (changed === original) return report.ok;
        // A change to the last line (or its removal) is the one a chain cannot see by itself:
        // then the head moves, which is why the README says to record the head elsewhere.
        const inLastLine = (m.kind === 'drop' && m.at === 7) || (m.kind === 'byte' && m.at >= lastLineStart);
        if (inLastLine) return !report.ok || report.head !== head;
        return !report.ok;
      }),
      { numRuns: 300 },
    );
  });

  it('with a chain key, a forger who re-links the lines with plain hashes is still found; the right key verifies', () => {
    const { path, lines } = chainedFile(4, 'chain-key-kept-elsewhere-0123456789');
    assert.equal(verifyAuditFile(path, { key: 'chain-key-kept-elsewhere-0123456789' }).ok, true);
    assert.equal(verifyAuditFile(path).ok, false, 'an unkeyed check does not pass a keyed chain');
    assert.equal(verifyAuditFile(path, { key: 'a-guessed-key-0123456789012345678' }).ok, false);
    // The forger edits line 2 and rebuilds every link after it without the key.
    const forged = [...lines];
    forged[1] = (forged[1] as string).replace('"principal":"user-1"', '"principal":"mallory"');
    const plainLink = verifyAuditChain(text(forged.slice(0, 2))).head;
    forged[2] = (forged[2] as string).replace(/"prev":"[0-9a-f]{64}"/, `"prev":"${plainLink}"`);
    const forgedPath = join(dir, 'forged.jsonl');
    writeFileSync(forgedPath, text(forged));
    assert.equal(verifyAuditFile(forgedPath, { key: 'chain-key-kept-elsewhere-0123456789' }).ok, false);
  });
});
