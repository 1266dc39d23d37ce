/**
 * The test entry point (`npm test` runs it after the type-check and lint): starts a private
 * redis-server unless REDIS_URL names one, runs every `test/**\/*.test.ts` with node:test, and
 * stops Redis again whatever happens. When browser tests are selected, it finds Debian's
 * `chromium` (installing the package when it is missing, like redis-server) and hands its path
 * to the tests in CHROMIUM_PATH.
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ensureChromiumBinary } from './chromium.js';
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

const filters = process.argv.slice(2);
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

const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files],
  { stdio: ['inherit', 'pipe', 'pipe'], env },
);
// Everything the run prints is also kept for the secrets scan below.
const output: Buffer[] = [];
child.stdout.on('data', (chunk: Buffer) => {
  output.push(chunk);
  process.stdout.write(chunk);
});
child.stderr.on('data', (chunk: Buffer) => {
  output.push(chunk);
  process.stderr.write(chunk);
});
let code: number = await new Promise((resolve) => {
  child.on('close', (status, signal) => resolve(status ?? (signal ? 1 : 0)));
});
await redis?.stop();

const findings = scanForSecrets(Buffer.concat(output).toString('utf8'), knownSecrets(['test', 'examples']));
if (findings.length > 0) {
  console.error(`\nrun-tests: the secrets scan found ${findings.length} secret(s) in what the tests printed:`);
  for (const f of findings.slice(0, 20)) console.error(`  output line ${f.line}: ${f.kind} ${f.excerpt}`);
  if (code === 0) code = 1;
} else {
  console.log('run-tests: secrets scan: no session id, signed cookie, token or test secret in the output');
}
process.exit(code);
