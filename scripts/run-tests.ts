/**
 * The test entry point (`npm test` runs it after the type-check and lint): starts a private
 * redis-server unless REDIS_URL names one, and — when a selected test file reads
 * REDIS_CLUSTER_URLS — a private three-primary Redis Cluster unless REDIS_CLUSTER_URLS names
 * one (comma-separated `redis://host:port`); runs every `test/**\/*.test.ts` with node:test,
 * and stops what it started whatever happens.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { startRedisCluster, type RunningRedisCluster } from './redis-cluster.js';
import { startRedisServer, type RunningRedis } from './redis-server.js';

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

const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files],
  { stdio: 'inherit', env },
);
const code: number = await new Promise((resolve) => {
  child.on('exit', (status, signal) => resolve(status ?? (signal ? 1 : 0)));
});
await Promise.all([redis?.stop(), cluster?.stop()]);
process.exit(code);
