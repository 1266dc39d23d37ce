/**
 * The test entry point (`npm test` runs it after the type-check and lint): starts a private
 * redis-server unless REDIS_URL names one, and — when a selected test file reads
 * REDIS_CLUSTER_URLS — a private three-primary Redis Cluster unless REDIS_CLUSTER_URLS names
 * one (comma-separated `redis://host:port`); runs every `test/**\/*.test.ts` with node:test on
 * Express 5, then the guard's core tests and the attack suite (EXPRESS4_TESTS) again on
 * Express 4, and stops what it started whatever happens. When browser tests are selected, it
 * finds Debian's `chromium` (installing the package when it is missing, like redis-server) and
 * hands its path to the tests in CHROMIUM_PATH.
 *
 * `--express=5` or `--express=4` runs one pass only; other arguments filter the files.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ensureChromiumBinary } from './chromium.js';
import { startRedisCluster, type RunningRedisCluster } from './redis-cluster.js';
import { startRedisServer, type RunningRedis } from './redis-server.js';
import { knownSecrets, scanForSecrets } from './secrets-scan.js';

function findTests(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (entry.endsWith('.test.ts')) found.push(path);
  }
  return found.sort();
}

/**
 * Run a second time on Express 4 (the `express4` alias, swapped in by test/support/express4.mjs):
 * the guard, its pieces, its timeouts, passport beside it, the attack suite (against the guard on
 * memory and Redis, and its flaw matrix) and the example app.
 */
const EXPRESS4_TESTS = [
  'test/guard/',
  'test/url-ids/',
  'test/cookie-tossing/',
  'test/headers/',
  'test/passport/',
  'test/lifecycle/lifecycle.test.ts',
  'test/attack-suite/guard.test.ts',
  'test/attack-suite/matrix.test.ts',
  'test/redis/attack-suite.test.ts',
  'test/examples/',
];

const args = process.argv.slice(2);
const only = args.find((arg) => arg.startsWith('--express='))?.slice('--express='.length);
if (only !== undefined && only !== '4' && only !== '5') {
  console.error(`run-tests: --express must be 4 or 5; got ${JSON.stringify(only)}`);
  process.exit(1);
}
const filters = args.filter((arg) => !arg.startsWith('--express='));
const files = findTests('test')
  .map((file) => relative('.', file))
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)));
if (files.length === 0) {
  console.error(`run-tests: no test files match ${JSON.stringify(filters)}`);
  process.exit(1);
}

let redis: RunningRedis | undefined;
const env = { ...process.env };
if (!env.REDIS_URL) {
  redis = await startRedisServer();
  env.REDIS_URL = redis.url;
  console.log(`run-tests: started redis-server for the tests at ${redis.url}`);
} else {
  console.log('run-tests: using the Redis named by REDIS_URL');
}

if (files.some((file) => file.startsWith(join('test', 'browser')))) {
  env.CHROMIUM_PATH = ensureChromiumBinary();
  console.log(`run-tests: browser tests use ${env.CHROMIUM_PATH}`);
}

let cluster: RunningRedisCluster | undefined;
const needsCluster = files.some((file) => readFileSync(file, 'utf8').includes('REDIS_CLUSTER_URLS'));
if (needsCluster && !env.REDIS_CLUSTER_URLS) {
  try {
    cluster = await startRedisCluster();
  } catch (error) {
    await redis?.stop();
    throw error;
  }
  env.REDIS_CLUSTER_URLS = cluster.urls.join(',');
  console.log(`run-tests: started a 3-primary Redis Cluster for the tests at ${env.REDIS_CLUSTER_URLS}`);
} else if (needsCluster) {
  console.log('run-tests: using the Redis Cluster named by REDIS_CLUSTER_URLS');
}

// Stopped from outside (Ctrl-C, a CI time-out): the test run and the servers started for it go too.
let running: ReturnType<typeof spawn> | undefined;
function stopEverything(signal: NodeJS.Signals, code: number): void {
  running?.kill(signal);
  void Promise.all([redis?.stop(), cluster?.stop()]).finally(() => process.exit(code));
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stopEverything(signal, signal === 'SIGINT' ? 130 : 143));
// Output piped into a reader that went away (`| head`): the same, instead of dying on EPIPE.
process.stdout.once('error', () => stopEverything('SIGTERM', 141));

/** One node:test run; everything it prints is also kept for the secrets scan below. */
function runPass(label: string, preload: string[], passFiles: string[]): Promise<number> {
  console.log(`run-tests: ${label}: ${passFiles.length} file(s)`);
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', ...preload.flatMap((file) => ['--import', file]), '--test', '--test-concurrency=2', '--test-timeout=300000', '--test-reporter=spec', ...passFiles],
    { stdio: ['inherit', 'pipe', 'pipe'], env },
  );
  running = child;
  child.stdout.on('data', (chunk: Buffer) => {
    output.push(chunk);
    process.stdout.write(chunk);
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output.push(chunk);
    process.stderr.write(chunk);
  });
  return new Promise((resolve) => {
    child.on('close', (status, signal) => resolve(status ?? (signal ? 1 : 0)));
  });
}

const output: Buffer[] = [];
const express4Files = files.filter((file) => EXPRESS4_TESTS.some((prefix) => file.replaceAll('\\', '/').startsWith(prefix)));
let code = 0;
try {
  if (only !== '4') code = await runPass('Express 5', [], files);
  if (only !== '5' && express4Files.length > 0) code = (await runPass('Express 4', ['./test/support/express4.mjs'], express4Files)) || code;
} finally {
  await Promise.all([redis?.stop(), cluster?.stop()]);
}

const findings = scanForSecrets(Buffer.concat(output).toString('utf8'), knownSecrets(['test', 'examples']));
if (findings.length > 0) {
  console.error(`\nrun-tests: the secrets scan found ${findings.length} secret(s) in what the tests printed:`);
  for (const f of findings.slice(0, 20)) console.error(`  output line ${f.line}: ${f.kind} ${f.excerpt}`);
  if (code === 0) code = 1;
} else {
  console.log('run-tests: secrets scan: no session id, signed cookie, token or test secret in the output');
}
process.exit(code);
