import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';

/**
 * Builds the package, packs it with npm and installs the tarball's contents into a scratch
 * project inside the repository (so dependencies resolve from the repo's node_modules), then
 * imports every subpath from ESM and from CommonJS, as a user would.
 */
const root = resolve(import.meta.dirname, '../..');
const scratch = join(root, '.tmp', `package-smoke-${process.pid}`);
const installed = join(scratch, 'node_modules', 'fixation-guard');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, { import?: { types: string; default: string }; require?: { types: string; default: string } } | string>;
  bin?: Record<string, string>;
};
const subpaths = Object.keys(pkg.exports).filter((key) => key !== './package.json');

function run(command: string, args: string[], cwd: string): string {
  return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'test' } });
}

describe('the packed package', () => {
  before(() => {
    rmSync(scratch, { recursive: true, force: true });
    mkdirSync(installed, { recursive: true });
    run('npm', ['run', 'build', '--silent'], root);
    const tarball = run('npm', ['pack', '--silent', '--pack-destination', scratch], root).trim().split('\n').pop() as string;
    run('tar', ['-xzf', join(scratch, tarball), '-C', installed, '--strip-components=1'], root);
    writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'smoke', private: true, type: 'module' }));
  });

  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('ships dist and the README, and no sources, tests or maps of the repository', () => {
    assert.ok(existsSync(join(installed, 'README.md')));
    assert.ok(existsSync(join(installed, 'dist', 'index.js')));
    assert.equal(existsSync(join(installed, 'src')), false);
    assert.equal(existsSync(join(installed, 'test')), false);
  });

  it('has, for every subpath, the ESM and CJS files and the declarations its exports map names', () => {
    for (const subpath of subpaths) {
      const entry = pkg.exports[subpath];
      assert.equal(typeof entry, 'object', subpath);
      if (typeof entry !== 'object') continue;
      for (const file of [entry.import?.default, entry.import?.types, entry.require?.default, entry.require?.types]) {
        assert.ok(file, `${subpath} names all four files`);
        assert.ok(existsSync(join(installed, file as string)), `${subpath}: ${file} exists`);
      }
    }
  });

  it('imports every subpath from ESM', () => {
    const lines = subpaths.map((subpath, i) => `import * as m${i} from 'fixation-guard${subpath.slice(1)}'; if (Object.keys(m${i}).length === 0) throw new Error('${subpath} is empty');`);
    writeFileSync(join(scratch, 'esm.mjs'), `${lines.join('\n')}\nconsole.log('esm ok');\n`);
    assert.match(run(process.execPath, ['esm.mjs'], scratch), /esm ok/);
  });

  it('requires every subpath from CommonJS', () => {
    const lines = subpaths.map((subpath) => `if (Object.keys(require('fixation-guard${subpath.slice(1)}')).length === 0) throw new Error('${subpath} is empty');`);
    writeFileSync(join(scratch, 'cjs.cjs'), `${lines.join('\n')}\nconsole.log('cjs ok');\n`);
    assert.match(run(process.execPath, ['cjs.cjs'], scratch), /cjs ok/);
  });

  it('builds a working guard from the ESM build (sessionGuard validates its options)', () => {
    writeFileSync(
      join(scratch, 'guard.mjs'),
      `import { sessionGuard } from 'fixation-guard';
try { sessionGuard({ secret: 'short' }); throw new Error('accepted a short secret'); }
catch (e) { if (!/at least 32 bytes/.test(e.message)) throw e; }
const guard = sessionGuard({ secret: 'x'.repeat(32), plainHttpDevelopment: true });
if (guard.cookieName !== 'sid') throw new Error(guard.cookieName);
console.log('guard ok');\n`,
    );
    assert.match(run(process.execPath, ['guard.mjs'], scratch), /guard ok/);
  });

  it('keeps the root import light: neither pino nor zod is loaded until a JSONL sink or the MCP config is used', () => {
    const heavy = /node_modules[\\/](pino|zod)[\\/]/;
    writeFileSync(join(scratch, 'light.cjs'), `require('fixation-guard');
console.log(JSON.stringify(Object.keys(require.cache).filter((k) => ${heavy}.test(k))));\n`);
    assert.deepEqual(JSON.parse(run(process.execPath, ['light.cjs'], scratch)), []);
    // ESM: a resolve hook records every module the import resolves.
    writeFileSync(join(scratch, 'hooks.mjs'), `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(${JSON.stringify(join(scratch, 'resolved.log'))}, result.url + '\\n');
  return result;
}\n`);
    writeFileSync(join(scratch, 'light.mjs'), `import { register } from 'node:module';
register('./hooks.mjs', import.meta.url);
await import('fixation-guard');
const { jsonlSink } = await import('fixation-guard');
if (typeof jsonlSink !== 'function') throw new Error('no jsonlSink');
console.log('imported');\n`);
    assert.match(run(process.execPath, ['light.mjs'], scratch), /imported/);
    const resolved = readFileSync(join(scratch, 'resolved.log'), 'utf8').split('\n');
    assert.ok(resolved.some((url) => url.includes('fixation-guard')), 'the hook saw the import');
    assert.deepEqual(resolved.filter((url) => heavy.test(url)), []);
  });
});
