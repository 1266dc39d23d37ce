import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

/** `test/x.test.ts` › "title fragment" references in docs/ASVS.md. */
const REFERENCE = /`(test\/[^`]+\.test\.ts)` › "([^"]+)"/g;

describe('the ASVS traceability table (docs/ASVS.md)', () => {
  const text = readFileSync('docs/ASVS.md', 'utf8');
  const rows = text.split('\n').filter((line) => /^\| [0-9—]/.test(line));

  it('covers every ASVS 5.0 V7 requirement and every 4.0.3 V3 requirement', () => {
    const v7 = ['7.1.1', '7.1.2', '7.1.3', '7.2.1', '7.2.2', '7.2.3', '7.2.4', '7.3.1', '7.3.2', '7.4.1', '7.4.2', '7.4.3', '7.4.4', '7.4.5', '7.5.1', '7.5.2', '7.5.3', '7.6.1', '7.6.2'];
    const v3 = ['3.1.1', '3.2.1', '3.2.2', '3.2.3', '3.2.4', '3.3.1', '3.3.2', '3.3.3', '3.3.4', '3.4.1', '3.4.2', '3.4.3', '3.4.4', '3.4.5', '3.5.1', '3.5.2', '3.5.3', '3.6.1', '3.6.2', '3.7.1'];
    for (const id of v7) assert.ok(rows.some((row) => row.split('|')[2]?.includes(id)), `5.0 ${id} missing`);
    for (const id of v3) assert.ok(rows.some((row) => row.split('|')[1]?.includes(id)), `4.0.3 ${id} missing`);
  });

  it('every test it names exists, under that title', () => {
    const references = [...text.matchAll(REFERENCE)];
    assert.ok(references.length >= 20, `only ${references.length} references`);
    for (const [, file, title] of references) {
      assert.ok(existsSync(file as string), `${file} does not exist`);
      assert.ok(readFileSync(file as string, 'utf8').includes(title as string), `${file} has no test titled "…${title}…"`);
    }
  });

  it('every row the library claims (library) names a test that proves it', () => {
    for (const row of rows) {
      const cells = row.split('|').map((c) => c.trim());
      if (cells[4] === 'library' && !cells[6]?.startsWith('see ')) assert.match(cells[6] ?? '', new RegExp(REFERENCE.source), `no test for: ${cells[3]}`);
    }
  });
});
