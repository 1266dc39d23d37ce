/**
 * Profiles bench servers under load:
 * `npm run bench:profile -- [hot|visit|login] [memory|redis] [plain|guard|compare] [--strategy=newSession] [--no-build]`.
 *
 * Builds dist/ (as `npm run bench` does), starts the server with `node --cpu-prof`, drives it
 * like the benchmark does, stops it (the profile is written at exit) and prints the top frames
 * by self time and the fixation-guard frames by inclusive time. `compare` profiles plain
 * express-session, then the guard, under the same load, and prints what the guard's requests
 * cost more or less, in µs per request, by package and by frame, counting only the measured
 * load (a login profile's pre-login sessions are made first and left out). The .cpuprofile
 * files stay in benchmarks/results/profiles/ (git-ignored): open one in Chrome DevTools
 * (Performance → Load profile) or drop it on https://www.speedscope.app for a flame graph.
 */
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RotationStrategy } from '../src/index.js';
import { startRedisServer, type RunningRedis } from '../scripts/redis-server.js';
import { buildDist } from './lib/build.js';
import { compareProfiles, summarize, type CpuProfile, type ProfiledLoad, type Window } from './lib/cpu-profile.js';
import { cookieFrom, load, type LoadResult } from './lib/load.js';
import { ServerProcess } from './lib/server-process.js';

const [scenario = 'hot', store = 'memory', impl = 'guard'] = process.argv
  .slice(2)
  .filter((a) => !a.startsWith('--'));
/** The guard's rotation strategy (`--strategy=…`), as the benchmark's login variants name them. */
const strategy = process.argv.find((a) => a.startsWith('--strategy='))?.slice('--strategy='.length);
if (strategy !== undefined && !['changeSessionId', 'migrateSession', 'newSession'].includes(strategy)) {
  throw new Error(`--strategy must be changeSessionId, migrateSession or newSession, not ${strategy}`);
}
/** Logins of the login profile: enough that the server's start-up is a small part of it. */
const LOGINS = 30_000;
const PROFILE_DIR = fileURLToPath(new URL('./results/profiles/', import.meta.url));
mkdirSync(PROFILE_DIR, { recursive: true });

/** Now, in µs of the clock V8's profiles use (CLOCK_MONOTONIC, as `process.hrtime`). */
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

/** The measured load against `url`, timed: its set-up (a first login, pre-login sessions) is outside the window. */
async function drive(url: string): Promise<{ result: LoadResult; window: Window; what: string }> {
  if (scenario === 'hot') {
    const visit = await fetch(`${url}/visit`);
    const anon = cookieFrom(visit.headers) ?? '';
    const res = await fetch(`${url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: anon },
      body: JSON.stringify({ username: 'alice', password: 'alice-password' }),
    });
    const cookie = cookieFrom(res.headers) ?? '';
    const fromUs = nowUs();
    const result = await load({ url, path: '/me', headers: { cookie }, duration: 8 });
    return { result, window: { fromUs, toUs: nowUs() }, what: 'GET /me' };
  }
  if (scenario === 'visit') {
    const fromUs = nowUs();
    const result = await load({ url, path: '/visit', duration: 8 });
    return { result, window: { fromUs, toUs: nowUs() }, what: 'GET /visit' };
  }
  const cookies: string[] = [];
  await load({ url, path: '/visit', amount: LOGINS, onResponse: (_s, h) => void cookies.push(cookieFrom(h) ?? '') });
  let n = 0;
  const fromUs = nowUs();
  const result = await load({
    url,
    method: 'POST',
    path: '/login',
    headers: { 'content-type': 'application/json' },
    amount: LOGINS,
    perRequest: () => {
      const i = n++;
      return {
        headers: { cookie: cookies[i % cookies.length] ?? '' },
        body: JSON.stringify({ username: `user${i}`, password: `user${i}-password` }),
      };
    },
  });
  return { result, window: { fromUs, toUs: nowUs() }, what: 'POST /login' };
}

/** One server of `kind` under the load, profiled: its profile, the load's window and requests. */
async function profileOne(kind: 'plain' | 'guard', redis: RunningRedis | undefined): Promise<ProfiledLoad> {
  const before = new Set(readdirSync(PROFILE_DIR));
  const server = await ServerProcess.start(
    {
      impl: kind,
      store: store === 'redis' ? 'redis' : 'memory',
      ...(redis ? { redisUrl: redis.url } : {}),
      prefix: `profile:{${kind}-${Date.now()}}:`,
      ...(strategy ? { strategy: strategy as RotationStrategy } : {}),
    },
    { cpuProfDir: PROFILE_DIR },
  );
  let driven;
  try {
    driven = await drive(server.url);
  } finally {
    await server.stop();
  }
  const { result, window, what } = driven;
  console.log(`${kind}: ${what}: ${result.rps.toFixed(0)} req/s, non-2xx ${result.non2xx}`);
  const file = readdirSync(PROFILE_DIR)
    .filter((f) => f.endsWith('.cpuprofile') && !before.has(f))
    .map((f) => join(PROFILE_DIR, f))
    .sort((a, b) => statSync(b).size - statSync(a).size)[0]; // the main thread's, not tsx's loader thread's
  if (!file) throw new Error('no profile was written');
  console.log(`profile: ${file}`);
  return { label: kind, profile: JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, window, requests: result.requests };
}

async function main(): Promise<void> {
  if (!process.argv.includes('--no-build')) await buildDist();
  const redis = store === 'redis' ? await startRedisServer() : undefined;
  try {
    if (impl === 'compare') {
      const plain = await profileOne('plain', redis);
      const guard = await profileOne('guard', redis);
      console.log(`\n${compareProfiles(plain, guard)}`);
      return;
    }
    const one = await profileOne(impl === 'plain' ? 'plain' : 'guard', redis);
    console.log('(open it in Chrome DevTools → Performance → Load profile, or on https://www.speedscope.app)\n');
    console.log(summarize(one.profile));
  } finally {
    await redis?.stop();
  }
}

await main();
