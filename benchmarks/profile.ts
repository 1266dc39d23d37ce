/**
 * Profiles one bench server under load:
 * `npm run bench:profile -- [hot|visit|login] [memory|redis] [plain|guard] [--no-build]`.
 *
 * Builds dist/ (as `npm run bench` does), starts the server with `node --cpu-prof`, drives it
 * like the benchmark does, stops it (the profile is written at exit) and prints the top frames
 * by self time and the fixation-guard frames by inclusive time. The .cpuprofile stays in
 * benchmarks/results/profiles/ (git-ignored): open it in Chrome DevTools (Performance → Load
 * profile) or drop it on https://www.speedscope.app for a flame graph.
 */
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRedisServer, type RunningRedis } from '../scripts/redis-server.js';
import { buildDist } from './lib/build.js';
import { cookieFrom, load } from './lib/load.js';
import { ServerProcess } from './lib/server-process.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [scenario = 'hot', store = 'memory', impl = 'guard'] = process.argv
  .slice(2)
  .filter((a) => !a.startsWith('--'));
/** Logins of the login profile: enough that the server's start-up is a small part of it. */
const LOGINS = 30_000;
const PROFILE_DIR = fileURLToPath(new URL('./results/profiles/', import.meta.url));
const ROOT = fileURLToPath(new URL('../', import.meta.url));
mkdirSync(PROFILE_DIR, { recursive: true });

function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url
    .replace(/^file:\/\//, '')
    .replace(/^.*\/node_modules\//, '~/')
    .replace(ROOT, '');
  return `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`;
}

export function summarize(profile: CpuProfile, top = 25): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parent.set(child, node.id);
  const selfUs = new Map<number, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number;
    const dt = profile.timeDeltas[i] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
    total += dt;
  }
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    self.set(frameName(node), (self.get(frameName(node)) ?? 0) + us);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const n = byId.get(at);
      if (!n) break;
      const name = frameName(n);
      if (seen.has(name)) continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + us);
    }
  }
  const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
  const lines = [`total sampled: ${(total / 1000).toFixed(0)} ms`, '', 'top self time:'];
  for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top))
    lines.push(`  ${pct(us)}  ${name}`);
  lines.push('', 'inclusive time, fixation-guard (dist/) frames:');
  for (const [name, us] of [...inclusive]
    .filter(([n]) => n.includes(' dist/') || n.includes(' src/'))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)) {
    lines.push(`  ${pct(us)}  ${name}`);
  }
  lines.push('', 'inclusive time, dependencies (node_modules) frames:');
  for (const [name, us] of [...inclusive]
    .filter(([n]) => n.includes('~/'))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)) {
    lines.push(`  ${pct(us)}  ${name}`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  if (!process.argv.includes('--no-build')) await buildDist();
  let redis: RunningRedis | undefined;
  if (store === 'redis') redis = await startRedisServer();
  const before = new Set(readdirSync(PROFILE_DIR));
  const server = await ServerProcess.start(
    {
      impl: impl === 'plain' ? 'plain' : 'guard',
      store: store === 'redis' ? 'redis' : 'memory',
      ...(redis ? { redisUrl: redis.url } : {}),
      prefix: 'profile:{p}:',
    },
    { cpuProfDir: PROFILE_DIR },
  );
  try {
    if (scenario === 'hot') {
      const visit = await fetch(`${server.url}/visit`);
      const anon = cookieFrom(visit.headers) ?? '';
      const res = await fetch(`${server.url}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie: anon },
        body: JSON.stringify({ username: 'alice', password: 'alice-password' }),
      });
      const cookie = cookieFrom(res.headers) ?? '';
      const result = await load({ url: server.url, path: '/me', headers: { cookie }, duration: 8 });
      console.log(`GET /me: ${result.rps.toFixed(0)} req/s, non-2xx ${result.non2xx}`);
    } else if (scenario === 'visit') {
      const result = await load({ url: server.url, path: '/visit', duration: 8 });
      console.log(`GET /visit: ${result.rps.toFixed(0)} req/s, non-2xx ${result.non2xx}`);
    } else {
      const cookies: string[] = [];
      await load({
        url: server.url,
        path: '/visit',
        amount: LOGINS,
        onResponse: (_s, h) => void cookies.push(cookieFrom(h) ?? ''),
      });
      let n = 0;
      const result = await load({
        url: server.url,
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
      console.log(`POST /login: ${result.rps.toFixed(0)} req/s, non-2xx ${result.non2xx}`);
    }
  } finally {
    await server.stop();
    await redis?.stop();
  }
  const created = readdirSync(PROFILE_DIR)
    .filter((f) => f.endsWith('.cpuprofile') && !before.has(f))
    .map((f) => join(PROFILE_DIR, f))
    .sort((a, b) => statSync(b).size - statSync(a).size); // the main thread's, not tsx's loader thread's
  const file = created[0];
  if (!file) throw new Error('no profile was written');
  console.log(
    `profile: ${file}\n(open it in Chrome DevTools → Performance → Load profile, or on https://www.speedscope.app)\n`,
  );
  console.log(summarize(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile));
}

await main();
