import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Auditor, jsonlSink } from '../../src/index.js';
import { buildCli, runCli, type BuiltCli } from '../attack-suite/support/built-cli.js';

const KEY = 'audit-chain-key-for-the-cli-test-0123456789';

describe('fixation-guard audit verify FILE (the built binary)', () => {
  let built: BuiltCli;
  const dir = mkdtempSync(join(tmpdir(), 'fg-audit-cli-'));
  const path = join(dir, 'audit.jsonl');
  before(async () => {
    built = await buildCli();
    const sink = jsonlSink(path, { chainKey: KEY });
    const auditor = new Auditor({ sinks: [sink] });
    for (const principal of ['alice', 'bob', 'carol', 'dave']) auditor.emit('login', { sessionId: `id-of-${principal}`, principal });
    sink.flush();
  });
  after(() => {
    built?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('exit 0 on an untouched trail with its key from the environment, and the head in the output', async () => {
    const run = await runCli(built, ['audit', 'verify', path, '--key-env', 'FG_TEST_CHAIN_KEY'], { env: { FG_TEST_CHAIN_KEY: KEY } });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /the chain holds over 4 lines; head [0-9a-f]{64}/);
    assert.ok(!run.stdout.includes(KEY) && !run.stderr.includes(KEY), 'the key is never printed');
  });

  it('exit 1 naming the line after a removed one; --json gives one document', async () => {
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    const cut = join(dir, 'cut.jsonl');
    writeFileSync(cut, `${[lines[0], lines[2], lines[3]].join('\n')}\n`);
    const run = await runCli(built, ['audit', 'verify', cut, '--key-env', 'FG_TEST_CHAIN_KEY'], { env: { FG_TEST_CHAIN_KEY: KEY } });
    assert.equal(run.code, 1);
    assert.match(run.stdout, /cut\.jsonl:2: line 2 does not follow line 1/);
    const json = await runCli(built, ['audit', 'verify', cut, '--key-env', 'FG_TEST_CHAIN_KEY', '--json'], { env: { FG_TEST_CHAIN_KEY: KEY } });
    const report = JSON.parse(json.stdout) as { ok: boolean; problems: Array<{ line: number; kind: string }> };
    assert.deepEqual([report.ok, report.problems.map((p) => [p.line, p.kind])], [false, [[2, 'broken-link']]]);
  });

  it('exit 1 without the key (a keyed chain is not a plain one); exit 2 for a missing file or an unset key variable', async () => {
    assert.equal((await runCli(built, ['audit', 'verify', path])).code, 1);
    const missing = await runCli(built, ['audit', 'verify', join(dir, 'nope.jsonl')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read .*nope\.jsonl \(ENOENT\)/);
    const unset = await runCli(built, ['audit', 'verify', path, '--key-env', 'FG_TEST_UNSET_VARIABLE']);
    assert.equal(unset.code, 2);
    assert.match(unset.stderr, /FG_TEST_UNSET_VARIABLE: that environment variable is not set/);
  });
});
