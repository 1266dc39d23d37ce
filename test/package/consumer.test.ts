import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';

/**
 * The package as a user gets it. `npm pack` (its `prepack` builds dist, as on a fresh clone)
 * makes the tarball; it is unpacked into scratch projects in the system's temp folder — outside
 * the repository, so nothing resolves from the repository's node_modules by accident — and
 * only the tarball's declared dependencies and peers, and the apps' own packages, are linked
 * in from the installed tree (no registry: this runs offline on a machine that just ran `npm ci`).
 *
 * - every subpath imports from ESM and CommonJS, and the root import stays light;
 * - an ESM TypeScript app — the README's first snippet, extracted from docs/readme, plus a .cts
 *   file and passport's types — type-checks with `strict` and without `skipLibCheck`, then logs
 *   in over plain HTTP on loopback in development;
 * - a CommonJS app on Redis, with `fixation-guard/request-methods`, logs in in production behind
 *   a TLS-terminating proxy (`trust proxy`, `X-Forwarded-Proto: https`).
 */
const root = resolve(import.meta.dirname, '../..');
const repoModules = join(root, 'node_modules');
const scratch = mkdtempSync(join(tmpdir(), 'fixation-guard-consumer-'));
const timings: Record<string, number> = {};

interface PackageJson {
  exports: Record<string, { import?: { types: string; default: string }; require?: { types: string; default: string } } | string>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  files?: string[];
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'test', ...env } });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed:\n${e.stdout ?? ''}\n${e.stderr ?? ''}\n${e.message}`);
  }
}

function timed<T>(label: string, fn: () => T): T {
  const start = performance.now();
  try {
    return fn();
  } finally {
    timings[label] = Math.round(performance.now() - start);
  }
}

/** Links `name` from the installed tree into `project`'s node_modules (like an offline install). */
function link(project: string, name: string): void {
  const target = join(project, 'node_modules', name);
  if (existsSync(target)) return;
  const source = join(repoModules, name);
  assert.ok(existsSync(source), `${name} is installed (npm ci)`);
  mkdirSync(dirname(target), { recursive: true });
  symlinkSync(realpathSync(source), target, 'dir');
}

/** A project with the unpacked tarball and its dependencies, peers that are installed, and `extra`. */
function project(name: string, pkg: Record<string, unknown>, extra: string[]): string {
  const dir = join(scratch, name);
  const installed = join(dir, 'node_modules', 'fixation-guard');
  mkdirSync(installed, { recursive: true });
  run('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1'], dir);
  const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as PackageJson;
  for (const dep of Object.keys(manifest.dependencies ?? {})) link(dir, dep);
  for (const peer of Object.keys(manifest.peerDependencies ?? {})) if (existsSync(join(repoModules, peer))) link(dir, peer);
  for (const dep of extra) link(dir, dep);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, ...pkg }, null, 2));
  return dir;
}

function firstTsBlock(markdown: string, name: string): string {
  const match = /^```ts\n([\s\S]*?)^```/m.exec(markdown);
  assert.ok(match, `${name} has a ts snippet`);
  return match[1] as string;
}

/** The README's first ```ts block, taken from the part it is assembled from (docs/readme/intro.md). */
function readmeFirstSnippet(): string {
  const snippet = firstTsBlock(readFileSync(join(root, 'docs', 'readme', 'intro.md'), 'utf8'), 'docs/readme/intro.md');
  assert.equal(firstTsBlock(readFileSync(join(root, 'README.md'), 'utf8'), 'README.md'), snippet, "it is the README's first snippet");
  return snippet;
}

interface Started {
  child: ChildProcess;
  url: string;
  stderr: () => string;
}

/** Starts `node <entry>` in `cwd` and resolves once it prints its `listening on` line. */
function start(cwd: string, entry: string, env: NodeJS.ProcessEnv): Promise<Started> {
  const child = spawn(process.execPath, [entry], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let errors = '';
  child.stderr?.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
      if (match) resolve({ child, url: match[1] as string, stderr: () => errors });
    });
    child.once('exit', (code) => reject(new Error(`${entry} exited (${code}) before listening:\n${errors}`)));
  });
}

/** One request with a cookie jar of one cookie, the way a browser on that origin would send it. */
async function call(url: string, path: string, init: { method?: string; body?: unknown; cookie?: string; headers?: Record<string, string> } = {}) {
  const res = await fetch(url + path, {
    method: init.method ?? 'GET',
    headers: { ...(init.body ? { 'content-type': 'application/json' } : {}), ...(init.cookie ? { cookie: init.cookie } : {}), ...init.headers },
    body: init.body ? JSON.stringify(init.body) : undefined,
    redirect: 'manual',
  });
  const text = await res.text();
  const json = (res.headers.get('content-type') ?? '').includes('json');
  return { status: res.status, body: json ? (JSON.parse(text) as unknown) : text, setCookie: res.headers.getSetCookie() };
}

const children: ChildProcess[] = [];
let tarball = '';
let pkg: PackageJson;

const USERS = `const users = {
  async verify(username: string, password: string): Promise<{ id: string } | undefined> {
    return username === 'alice' && password === 'alice-password' ? { id: 'alice' } : undefined;
  },
};
`;

describe('the packed package, installed into fresh apps', () => {
  before(() => {
    timed('npm pack (prepack build)', () => run('npm', ['pack', '--pack-destination', scratch], root));
    const found = readdirSync(scratch).filter((file) => file.endsWith('.tgz'));
    assert.equal(found.length, 1, `one tarball in ${scratch}`);
    tarball = join(scratch, found[0] as string);
    pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackageJson;
  });

  after(() => {
    for (const child of children) child.kill();
    rmSync(scratch, { recursive: true, force: true });
    console.log(`consumer test timings (ms): ${JSON.stringify(timings)}`);
  });

  describe('its contents', () => {
    let dir = '';
    let installed = '';
    const subpaths = () => Object.keys(pkg.exports).filter((key) => key !== './package.json');
    before(() => {
      dir = project('smoke', { type: 'module' }, []);
      installed = join(dir, 'node_modules', 'fixation-guard');
    });

    it('ships dist, README, LICENSE, CHANGELOG and SECURITY, and no sources, tests or scripts of the repository', () => {
      for (const file of ['README.md', 'LICENSE', 'CHANGELOG.md', 'SECURITY.md', 'dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/index.d.cts']) {
        assert.ok(existsSync(join(installed, file)), `${file} is in the tarball`);
      }
      for (const dir of ['src', 'test', 'scripts', 'examples', '.ci']) assert.equal(existsSync(join(installed, dir)), false, `${dir} is not`);
      assert.match(readFileSync(join(installed, 'LICENSE'), 'utf8'), /^MIT License/);
    });

    it('has, for every subpath, the ESM and CJS files and the declarations its exports map names', () => {
      assert.ok(subpaths().includes('./request-methods'));
      for (const subpath of subpaths()) {
        const entry = pkg.exports[subpath];
        assert.equal(typeof entry, 'object', subpath);
        if (typeof entry !== 'object') continue;
        for (const file of [entry.import?.default, entry.import?.types, entry.require?.default, entry.require?.types]) {
          assert.ok(file, `${subpath} names all four files`);
          assert.ok(existsSync(join(installed, file as string)), `${subpath}: ${file} exists`);
        }
      }
    });

    it('imports every subpath from ESM and requires it from CommonJS', () => {
      const lines = subpaths().map((subpath, i) => `import * as m${i} from 'fixation-guard${subpath.slice(1)}'; void m${i};`);
      writeFileSync(join(dir, 'esm.mjs'), `${lines.join('\n')}\nconsole.log('esm ok');\n`);
      assert.match(run(process.execPath, ['esm.mjs'], dir), /esm ok/);
      const requires = subpaths().map((subpath) => `require('fixation-guard${subpath.slice(1)}');`);
      writeFileSync(join(dir, 'cjs.cjs'), `${requires.join('\n')}\nconsole.log('cjs ok');\n`);
      assert.match(run(process.execPath, ['cjs.cjs'], dir), /cjs ok/);
    });

    it('builds a working guard from the ESM build (sessionGuard validates its options)', () => {
      writeFileSync(
        join(dir, 'guard.mjs'),
        `import { sessionGuard } from 'fixation-guard';
try { sessionGuard({ secret: 'short' }); throw new Error('accepted a short secret'); }
catch (e) { if (!/at least 32 bytes/.test(e.message)) throw e; }
const guard = sessionGuard({ secret: 'x'.repeat(32), plainHttpDevelopment: true });
if (guard.cookieName !== 'sid') throw new Error(guard.cookieName);
console.log('guard ok');\n`,
      );
      assert.match(run(process.execPath, ['guard.mjs'], dir), /guard ok/);
    });

    it('keeps the root import light: neither pino nor zod is loaded until a JSONL sink or the MCP config is used', () => {
      const heavy = /node_modules[\\/](pino|zod)[\\/]/;
      writeFileSync(join(dir, 'light.cjs'), `require('fixation-guard');
console.log(JSON.stringify(Object.keys(require.cache).filter((k) => ${heavy}.test(k))));\n`);
      assert.deepEqual(JSON.parse(run(process.execPath, ['light.cjs'], dir)), []);
      writeFileSync(join(dir, 'hooks.mjs'), `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(${JSON.stringify(join(dir, 'resolved.log'))}, result.url + '\\n');
  return result;
}\n`);
      writeFileSync(join(dir, 'light.mjs'), `import { register } from 'node:module';
register('./hooks.mjs', import.meta.url);
const { jsonlSink } = await import('fixation-guard');
if (typeof jsonlSink !== 'function') throw new Error('no jsonlSink');
console.log('imported');\n`);
      assert.match(run(process.execPath, ['light.mjs'], dir), /imported/);
      const resolved = readFileSync(join(dir, 'resolved.log'), 'utf8').split('\n');
      assert.ok(resolved.some((url) => url.includes('fixation-guard')), 'the hook saw the import');
      assert.deepEqual(resolved.filter((url) => heavy.test(url)), []);
    });
  });

  describe('an ESM TypeScript app: the README\'s first snippet, beside passport\'s types', () => {
    let dir = '';
    before(() => {
      dir = project('esm-app', { type: 'module' }, ['@types/express', '@types/node', '@types/passport', 'passport']);
      mkdirSync(join(dir, 'src'));
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            strict: true,
            skipLibCheck: false,
            noUncheckedIndexedAccess: true,
            outDir: 'out',
            rootDir: 'src',
          },
          include: ['src'],
        }),
      );
      writeFileSync(join(dir, 'src', 'app.ts'), `${USERS}${readmeFirstSnippet()}\nexport { app };\n`);
      writeFileSync(
        join(dir, 'src', 'server.ts'),
        `import type { AddressInfo } from 'node:net';
import { app } from './app.js';
const server = app.listen(0, '127.0.0.1', () => console.log(\`listening on http://127.0.0.1:\${(server.address() as AddressInfo).port}\`));
`,
      );
      // What the types promise is what runs: passport's req.login stays passport's.
      writeFileSync(
        join(dir, 'src', 'checks.ts'),
        `import type { Request } from 'express';
import type { Session } from 'express-session';
import passport from 'passport';
import { authenticated, guarded, type SessionGuardRequestApi } from 'fixation-guard';

export async function checks(req: Request): Promise<string> {
  // @ts-expect-error passport's req.login takes a callback; the guard's is guarded(req).login
  await req.login('alice');
  req.login({ id: 'alice' }, (err) => void err);
  const api: SessionGuardRequestApi | undefined = req.sessionGuard;
  void api;
  const session: Session = req.session;
  void session;
  await guarded(req).login('alice', { keep: ['returnTo'] });
  const principal: string = authenticated(req).principal;
  // @ts-expect-error outside requireAuth() the principal may be undefined
  const maybe: string = guarded(req).principal;
  void maybe;
  return principal + String(typeof passport.initialize);
}
`,
      );
      // A .cts file loads the CommonJS declarations beside the ESM ones: no TS2717 on req.sessionGuard.
      writeFileSync(
        join(dir, 'src', 'legacy.cts'),
        `import type { Request } from 'express';
import { guarded } from 'fixation-guard';
export function who(req: Request): string | undefined {
  return guarded(req).principal ?? req.sessionGuard?.principal;
}
`,
      );
    });

    it('type-checks and compiles with strict and without skipLibCheck, passport types installed, .ts and .cts together', () => {
      timed('tsc (esm app)', () => run(process.execPath, [join(repoModules, 'typescript', 'bin', 'tsc'), '-p', '.'], dir));
      assert.ok(existsSync(join(dir, 'out', 'server.js')));
      assert.ok(existsSync(join(dir, 'out', 'legacy.cjs')));
    });

    it('logs in over plain HTTP on loopback in development, with one warning naming the production setting', async () => {
      const started = performance.now();
      const app = await start(dir, 'out/server.js', { NODE_ENV: 'development', SESSION_SECRET: 'consumer-test-secret-that-is-long-enough-0123' });
      assert.equal((await call(app.url, '/me')).status, 401);
      const bad = await call(app.url, '/login', { method: 'POST', body: { username: 'alice', password: 'nope' } });
      assert.equal(bad.status, 401);
      const login = await call(app.url, '/login', { method: 'POST', body: { username: 'alice', password: 'alice-password' } });
      assert.equal(login.status, 200);
      assert.deepEqual(login.body, { user: 'alice' });
      const line = login.setCookie.find((c) => c.startsWith('sid='));
      assert.ok(line, `a sid cookie over http:// (got ${JSON.stringify(login.setCookie)})`);
      assert.doesNotMatch(line, /;\s*Secure/i, 'not Secure: a browser keeps it on http://localhost');
      assert.match(line, /HttpOnly/i);
      const cookie = line.split(';')[0] as string;
      assert.deepEqual((await call(app.url, '/me', { cookie })).body, { user: 'alice' });
      assert.equal((await call(app.url, '/logout', { method: 'POST', cookie })).status, 204);
      assert.equal((await call(app.url, '/me', { cookie })).status, 401, 'the id is dead server-side after logout');
      assert.match(app.stderr(), /fixation-guard/);
      assert.match(app.stderr(), /production/);
      app.child.kill();
      timings['esm app run'] = Math.round(performance.now() - started);
    });
  });

  describe('a CommonJS app on Redis, in production behind a TLS-terminating proxy', () => {
    let dir = '';
    before(() => {
      dir = project('cjs-app', { type: 'commonjs' }, []);
      writeFileSync(
        join(dir, 'server.js'),
        `require('fixation-guard/request-methods');
const express = require('express');
const { sessionGuard, requireAuth, authenticated } = require('fixation-guard');
const { createRedisSessionStores } = require('fixation-guard/redis');

const redis = createRedisSessionStores({ url: process.env.REDIS_URL, prefix: process.env.PREFIX });
const app = express();
app.set('trust proxy', 1);
app.use(express.json());
app.use(sessionGuard({ secret: process.env.SESSION_SECRET, store: redis.store, index: redis.index }));
app.post('/login', async (req, res, next) => {
  try {
    if (req.body.password !== req.body.username + '-password') return res.status(401).json({ error: 'bad credentials' });
    await req.login(req.body.username);
    res.json({ user: req.body.username });
  } catch (err) { next(err); }
});
app.get('/me', requireAuth(), (req, res) => res.json({ user: authenticated(req).principal }));
app.post('/logout', async (req, res, next) => {
  try { await req.logout(); res.sendStatus(204); } catch (err) { next(err); }
});
app.use((err, req, res, next) => res.status(err.status || 500).json({ error: { code: err.code, message: err.message } }));
redis.ready.then(() => {
  const server = app.listen(0, '127.0.0.1', () => console.log('listening on http://127.0.0.1:' + server.address().port));
});
process.on('SIGTERM', () => { redis.close().finally(() => process.exit(0)); });
`,
      );
    });

    it('logs in with a Secure __Host- cookie over X-Forwarded-Proto: https, and refuses the same login over plain HTTP', async (t) => {
      assert.ok(process.env.REDIS_URL, 'REDIS_URL (scripts/run-tests.ts starts a redis-server)');
      const started = performance.now();
      const app = await start(dir, 'server.js', {
        NODE_ENV: 'production',
        SESSION_SECRET: 'consumer-test-secret-that-is-long-enough-0123',
        PREFIX: `consumer:{c${process.pid}}:`,
      });
      t.after(() => app.child.kill());
      const viaProxy = { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.7' };
      const login = await call(app.url, '/login', { method: 'POST', body: { username: 'alice', password: 'alice-password' }, headers: viaProxy });
      assert.equal(login.status, 200);
      const line = login.setCookie.find((c) => c.startsWith('__Host-sid='));
      assert.ok(line, `a __Host-sid cookie (got ${JSON.stringify(login.setCookie)})`);
      assert.match(line, /;\s*Secure/i);
      const cookie = line.split(';')[0] as string;
      assert.deepEqual((await call(app.url, '/me', { cookie, headers: viaProxy })).body, { user: 'alice' });
      assert.equal((await call(app.url, '/logout', { method: 'POST', cookie, headers: viaProxy })).status, 204);
      assert.equal((await call(app.url, '/me', { cookie, headers: viaProxy })).status, 401);
      // Production weakens nothing: the same login over plain HTTP is refused, not answered 200 without a cookie.
      const plain = await call(app.url, '/login', { method: 'POST', body: { username: 'alice', password: 'alice-password' } });
      assert.equal(plain.status, 500, JSON.stringify(plain.body));
      assert.equal((plain.body as { error: { code: string } }).error.code, 'SESSION_CONFIG');
      assert.match(JSON.stringify(plain.body), /trust proxy/);
      assert.deepEqual(plain.setCookie.filter((c) => /sid=/.test(c) && !/Expires=Thu, 01 Jan 1970/i.test(c)), []);
      timings['cjs app run'] = Math.round(performance.now() - started);
    });
  });
});
