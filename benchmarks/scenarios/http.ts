/**
 * The HTTP scenarios: every variant runs in its own server process (benchmarks/server.ts);
 * variants are measured in rounds, each server once per round (A, B, C, then C, B, A), the first
 * variant of a scenario is the baseline A, and ratios are medians of the per-round ratios
 * variant/baseline.
 */
import { createClient } from 'redis';
import { load, cookieFrom, type LoadResult, type LoadSpec } from '../lib/load.js';
import { cpuTicks, stealPercent, type CpuTicks } from '../lib/machine.js';
import type { CpuSample, ServerVariant } from '../lib/protocol.js';
import { ServerProcess } from '../lib/server-process.js';
import { median, pairSpread, pairedRatio, round } from '../lib/stats.js';

export interface Settings {
  quick: boolean;
  runs: number;
  /** Seconds of a time-bounded run. */
  duration: number;
  /** Seconds of the warm-up run of each server. */
  warmup: number;
  /** Expected logins per second before the first measurement (sizes the pre-login sessions). */
  logins: number;
  redisUrl?: string | undefined;
  /** Write a `--cpu-prof` profile of every server into this directory. */
  cpuProfDir?: string | undefined;
  /** The cores of the measured servers (undefined: not pinned). */
  serverCores?: readonly number[] | undefined;
  /** How many cores the load generator and redis-server share when pinned. */
  loadCores?: number | undefined;
  /** autocannon's connections (requests in flight) per measured run. */
  connections: number;
  log: (line: string) => void;
}

export interface VariantSpec {
  key: string;
  label: string;
  variant: ServerVariant;
}

export interface RunRecord {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerRequest: number;
  requests: number;
  serverRequests: number;
  /** Main-thread garbage-collection pauses per request (µs): young, and the rest. */
  gcYoungUsPerRequest: number;
  gcFullUsPerRequest: number;
  heapUsedMiB: number;
  /** The redis-server's CPU (user + system) per request of the run, for a variant on Redis. */
  redisCpuUsPerRequest?: number;
  /**
   * Redis's time executing each command per request of the run (`INFO commandstats`), for a
   * variant on Redis: calls and µs. A script's time (EVALSHA) includes the commands it ran, which
   * are listed too.
   */
  redisCommands?: Record<string, { calls: number; us: number }>;
  /** The load generator's own CPU per request (this process, which runs autocannon). */
  loadCpuUsPerRequest: number;
  /** Pinned: how busy the load generator's cores were (load generator + redis-server CPU / their wall time). */
  loadCoresBusy?: number;
  non2xx: number;
  errors: number;
}

export interface VariantResult {
  key: string;
  label: string;
  variant: ServerVariant;
  runs: RunRecord[];
  median: {
    rps: number;
    p50Ms: number;
    p99Ms: number;
    cpuUsPerRequest: number;
    gcUsPerRequest: number;
    redisCpuUsPerRequest?: number;
    /** Per command, the median over the runs of its calls and µs per request. */
    redisCommands?: Record<string, { calls: number; us: number }>;
  };
  /** Median of per-run ratios against the scenario's baseline (the first variant). */
  ratio: { rps: number; cpuUsPerRequest: number; p50Ms: number; p99Ms: number };
  /** The interquartile range of the per-run ratios behind `ratio.rps` and `ratio.cpuUsPerRequest`. */
  spread: { rps: [number, number]; cpuUsPerRequest: [number, number] };
  non2xx: number;
  errors: number;
}

export interface ScenarioResult {
  id: string;
  title: string;
  description: string;
  bounded: string;
  baseline: string;
  variants: VariantResult[];
  /** CPU steal during the recorded rounds, in percent of the machine's CPU time (Linux). */
  stealPercent?: number | undefined;
}

interface Scenario {
  id: string;
  title: string;
  description: string;
  variants: VariantSpec[];
  /** Once per server, before the warm-up (e.g. log in and keep the cookie). */
  prepare?: (server: ServerProcess) => Promise<void>;
  /** The load of one run; may do unmeasured set-up first (e.g. create pre-login sessions). */
  spec: (server: ServerProcess, warmup: boolean) => Promise<LoadSpec>;
  bounded: string;
  /** Sees every run's result (warm-up included). */
  observe?: (server: ServerProcess, result: LoadResult) => void;
}

const LOGIN_BODY = JSON.stringify({ username: 'alice', password: 'alice-password' });
/**
 * The bench server knows users user0…user9999999 (password `<user>-password`): more than a full
 * run's logins (about 600,000 per scenario), so that no user logs in twice and no login prunes a
 * session list that earlier logins left (with 100,000 users, a login in a scenario's last rounds met
 * about one earlier session of its user on each server).
 */
const USER_POOL = 10_000_000;
let userSeq = 0;
const JSON_HEADERS = { 'content-type': 'application/json' };

async function loginCookie(server: ServerProcess): Promise<string> {
  const visit = await fetch(`${server.url}/visit`);
  const anon = cookieFrom(visit.headers);
  if (!anon) throw new Error(`${server.url}/visit set no cookie`);
  const res = await fetch(`${server.url}/login`, { method: 'POST', headers: { ...JSON_HEADERS, cookie: anon }, body: LOGIN_BODY });
  const cookie = cookieFrom(res.headers);
  if (res.status !== 200 || !cookie) throw new Error(`login failed on ${server.url}: ${res.status} ${await res.text()}`);
  const me = await fetch(`${server.url}/me`, { headers: { cookie } });
  if (me.status !== 200) throw new Error(`GET /me with the login cookie answered ${me.status} on ${server.url}`);
  return cookie;
}

/**
 * Creates `count` anonymous sessions (GET /visit without a cookie, driven by autocannon like the
 * measured runs: one fetch at a time took most of a `--quick` run) and returns their cookies.
 * Not measured: the server is between `stop` and `start`.
 */
async function anonymousCookies(server: ServerProcess, count: number): Promise<string[]> {
  const cookies: string[] = [];
  await load({
    url: server.url,
    path: '/visit',
    amount: count,
    onResponse: (_status, headers) => {
      const cookie = cookieFrom(headers);
      if (cookie) cookies.push(cookie);
    },
  });
  if (cookies.length < count) throw new Error(`wanted ${count} anonymous sessions, got ${cookies.length}`);
  return cookies;
}

/** A server's variant as the log names it: `plain`, or the guard's strategy (and `-nonatomic`). */
const variantName = ({ variant }: ServerProcess) =>
  variant.impl === 'plain' ? 'plain' : `${variant.strategy ?? 'guard'}${variant.atomicRename === false ? '-nonatomic' : ''}`;

const storeName = (store: 'memory' | 'redis') => (store === 'memory' ? 'MemoryStore' : 'Redis');

/** What every server of a scenario shares: the Redis to use, the Node options to start with. */
function shared(store: 'memory' | 'redis', settings: Settings, nodeFlags?: string[]): Partial<ServerVariant> {
  return { ...(store === 'redis' ? { redisUrl: settings.redisUrl } : {}), ...(nodeFlags ? { nodeFlags } : {}) };
}

function variantsFor(store: 'memory' | 'redis', settings: Settings, guardExtra: Partial<ServerVariant> = {}, nodeFlags?: string[]): VariantSpec[] {
  const both = shared(store, settings, nodeFlags);
  return [
    { key: 'plain', label: 'express-session', variant: { impl: 'plain', store, ...both, prefix: `bench:{plain-${Date.now()}}:` } },
    { key: 'guard', label: 'sessionGuard', variant: { impl: 'guard', store, ...both, prefix: `bench:{guard-${Date.now()}}:`, ...guardExtra } },
  ];
}

/** How old the hot path's session is for the guard: past its first minute (see `sessionAgeMs`). */
const MATURE_SESSION_MS = 2 * 60_000;

/**
 * The young generation (semi-space, MB) of the `young-*` scenarios. Express gives every
 * request and response object a hidden class of its own (it swaps their prototypes), so each
 * property a middleware adds to them allocates one; with Node's default young generation
 * about a third of what a request allocates survives a scavenge. One this size lets it die young.
 */
export const SERVER_SEMI_SPACE_MB = 64;
const SERVER_NODE_FLAGS = [`--max-semi-space-size=${SERVER_SEMI_SPACE_MB}`];

/**
 * The authenticated hot path. With `nodeFlags` (the `young-hot-*` scenarios), plain and guard
 * both run with them, and the first-minute variant is left out.
 */
function hotPath(store: 'memory' | 'redis', settings: Settings, nodeFlags?: string[]): Scenario {
  const cookies = new Map<ServerProcess, string>();
  const [plain, guard] = variantsFor(store, settings, { sessionAgeMs: MATURE_SESSION_MS }, nodeFlags) as [VariantSpec, VariantSpec];
  const run = {
    bounded: `${settings.duration} s per run`,
    prepare: async (server: ServerProcess) => {
      cookies.set(server, await loginCookie(server));
    },
    spec: async (server: ServerProcess, warmup: boolean): Promise<LoadSpec> => {
      // The first-minute row's session logs in again before each run (unmeasured): the guard's
      // first activity save comes a minute after the login, and a run dozens of seconds later
      // would measure a session past it.
      if (server.variant.impl === 'guard' && server.variant.sessionAgeMs === undefined && !nodeFlags) cookies.set(server, await loginCookie(server));
      return {
        url: server.url,
        path: '/me',
        headers: { cookie: cookies.get(server) as string },
        duration: warmup ? settings.warmup : settings.duration,
      };
    },
  };
  if (nodeFlags) {
    return {
      id: `young-hot-${store}`,
      title: `Hot path with a server-sized young generation: authenticated GET /me (${storeName(store)}; both servers \`node ${nodeFlags.join(' ')}\`)`,
      description:
        `The hot path again, both servers started with \`${nodeFlags.join(' ')}\` (Node's default young generation is a few MB). Express gives each request and response object a hidden class of its own (it swaps their prototypes), so every property a middleware adds to them allocates a new one, and with the default size about a third of what a request allocates outlives a young collection. What the two rows differ by here is what the guard costs when little of either survives.`,
      variants: [plain, guard],
      ...run,
    };
  }
  return {
    id: `hot-${store}`,
    title: `Hot path: authenticated GET /me (${storeName(store)})`,
    description:
      'One logged-in cookie sent on every request; the route reads the session and answers JSON. `sessionGuard`: a session past its first minute (the guard clock moves on 2 minutes after the login; its activity save then lets the touches in between stay in the process); `first minute`: the session just logged in, before the guard’s first activity save (its moved record already lives as its cookie says, so touches stay in the process here too).',
    variants: [
      plain,
      guard,
      { key: 'guard-first-minute', label: 'sessionGuard, first minute after login', variant: { impl: 'guard', store, ...shared(store, settings), prefix: `bench:{guard-fresh-${Date.now()}}:` } },
    ],
    ...run,
  };
}

function firstVisit(store: 'memory' | 'redis', settings: Settings): Scenario {
  return {
    id: `first-visit-${store}`,
    title: `First visit: anonymous request that creates a session (${storeName(store)})`,
    description: 'No cookie; GET /visit writes a counter, so every request creates, saves and sets the cookie of a new session.',
    variants: variantsFor(store, settings),
    bounded: `${settings.duration} s per run`,
    spec: async (server, warmup) => ({ url: server.url, path: '/visit', duration: warmup ? settings.warmup : settings.duration }),
  };
}

/**
 * Logins per strategy. With `nodeFlags` (the `young-login-*` scenarios), plain and
 * `changeSessionId` only, both with them.
 */
function login(store: 'memory' | 'redis', settings: Settings, nodeFlags?: string[]): Scenario {
  const loginRate = new Map<ServerProcess, number>();
  const both = shared(store, settings, nodeFlags);
  const stamp = `${nodeFlags ? 'young-' : ''}${Date.now()}`;
  const variants: VariantSpec[] = [
    {
      key: 'plain',
      label: store === 'redis' ? 'express-session regenerate() + copy (connect-redis: DEL, SET, and express-session\'s own SET at the end)' : 'express-session regenerate() + copy',
      variant: { impl: 'plain', store, ...both, prefix: `bench:{plain-login-${stamp}}:` },
    },
  ];
  // --quick keeps the pairs the targets need; the full run measures every strategy.
  const strategies = settings.quick || nodeFlags ? (['changeSessionId'] as const) : (['changeSessionId', 'migrateSession', 'newSession'] as const);
  for (const strategy of strategies) {
    variants.push({
      key: strategy,
      label: store === 'redis' ? `sessionGuard ${strategy} (atomic RENAME script)` : `sessionGuard ${strategy}`,
      variant: { impl: 'guard', store, ...both, strategy, prefix: `bench:{${strategy}-${stamp}}:` },
    });
  }
  if (store === 'redis' && !nodeFlags) {
    variants.push({
      key: 'changeSessionId-nonatomic',
      label: 'sessionGuard changeSessionId without rename (set new, then tombstone old)',
      variant: { impl: 'guard', store, ...both, strategy: 'changeSessionId', atomicRename: false, prefix: `bench:{nonatomic-${stamp}}:` },
    });
  }
  return {
    id: `${nodeFlags ? 'young-' : ''}login-${store}`,
    title: nodeFlags
      ? `Login with a server-sized young generation (${storeName(store)}; both servers \`node ${nodeFlags.join(' ')}\`)`
      : `Login: POST /login per strategy (${storeName(store)})`,
    description:
      'Every login presents its own pre-login session (created before the run by GET /visit, unmeasured) and gets a new id; the server saves before it answers.' +
      (nodeFlags ? ` Both servers started with \`${nodeFlags.join(' ')}\`, as in the hot path above.` : ''),
    variants,
    bounded: `about ${settings.duration} s per run: as many logins as the server made in ${settings.duration} s at its best rate so far, each on its own pre-login session`,
    spec: async (server, warmup) => {
      // Count-bounded: exactly one pre-login session per login of the run, so that no login
      // reuses a dead id and the store holds no session the run did not use (a MemoryStore
      // server would otherwise carry thousands of unused ones into the next run's collections).
      // As many as this server made in a run's time at its best rate so far; the warm-up's, twice
      // the expected rate (a cold process needs the logins, not the seconds, to compile its code).
      const count = warmup ? 2 * settings.logins * settings.warmup : (loginRate.get(server) ?? settings.logins) * settings.duration;
      const cookies = await anonymousCookies(server, Math.max(300, Math.ceil(count)));
      let next = 0;
      return {
        url: server.url,
        method: 'POST',
        path: '/login',
        headers: JSON_HEADERS,
        body: LOGIN_BODY,
        amount: cookies.length,
        // A different pre-login session and a different user each time: the login cost, not
        // the cost of one user's ever-growing session list (the growth scenario measures that).
        perRequest: () => {
          const n = next++;
          if (n === cookies.length) settings.log(`  warning: ${variantName(server)} (${server.url}) ran out of pre-login sessions; reusing (dead) ones`);
          const user = `user${userSeq++ % USER_POOL}`;
          return {
            headers: { cookie: cookies[n % cookies.length] as string },
            body: JSON.stringify({ username: user, password: `${user}-password` }),
          };
        },
      };
    },
    observe: (server, result) => {
      loginRate.set(server, Math.max(result.rps, loginRate.get(server) ?? 0, 50));
    },
  };
}

export function httpScenarios(settings: Settings): Scenario[] {
  const stores: Array<'memory' | 'redis'> = settings.redisUrl ? ['memory', 'redis'] : ['memory'];
  const list: Scenario[] = [];
  for (const store of stores) list.push(hotPath(store, settings));
  for (const store of stores) list.push(hotPath(store, settings, SERVER_NODE_FLAGS));
  for (const store of stores) list.push(firstVisit(store, settings));
  for (const store of stores) list.push(login(store, settings));
  for (const store of stores) list.push(login(store, settings, SERVER_NODE_FLAGS));
  return list;
}

function record(result: LoadResult, sample: CpuSample, redisUsed: RedisUse | undefined, loadCpuUs: number, loadCores: number | undefined): RunRecord {
  const redisCpuUs = redisUsed?.cpuUs;
  const wallUs = result.durationS * 1e6;
  /** A total of the run (µs) per request the server counted. */
  const perRequest = (totalUs: number) => round(sample.requests > 0 ? totalUs / sample.requests : 0, 1);
  return {
    loadCpuUsPerRequest: perRequest(loadCpuUs),
    ...(loadCores !== undefined && wallUs > 0 ? { loadCoresBusy: round((loadCpuUs + (redisCpuUs ?? 0)) / (wallUs * loadCores), 2) } : {}),
    rps: round(result.rps, 1),
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    cpuUsPerRequest: round(sample.cpuUsPerRequest, 1),
    requests: result.requests,
    serverRequests: sample.requests,
    gcYoungUsPerRequest: perRequest(1000 * sample.gcYoungMs),
    gcFullUsPerRequest: perRequest(1000 * sample.gcFullMs),
    heapUsedMiB: round(sample.heapUsedBytes / 2 ** 20, 1),
    ...(redisCpuUs !== undefined && sample.requests > 0 ? { redisCpuUsPerRequest: perRequest(redisCpuUs) } : {}),
    ...(redisUsed !== undefined && sample.requests > 0
      ? {
          redisCommands: Object.fromEntries(
            Object.entries(redisUsed.commands).map(([name, used]) => [name, { calls: round(used.calls / sample.requests, 2), us: perRequest(used.usec) }]),
          ),
        }
      : {}),
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

type RedisClient = ReturnType<typeof createClient>;

/** Per command, the medians over the runs of its calls and µs per request (a run without it counts as 0). */
function medianCommands(runs: RunRecord[]): Record<string, { calls: number; us: number }> {
  const names = new Set(runs.flatMap((r) => Object.keys(r.redisCommands ?? {})));
  const of = (name: string, f: 'calls' | 'us') => median(runs.map((r) => r.redisCommands?.[name]?.[f] ?? 0));
  return Object.fromEntries([...names].sort().map((name) => [name, { calls: round(of(name, 'calls'), 2), us: round(of(name, 'us'), 1) }]));
}

/** What redis-server has spent so far: its CPU (user + system, µs), and the calls and µs of each command. */
interface RedisUse {
  cpuUs: number;
  commands: Record<string, { calls: number; usec: number }>;
}

/** Redis's use so far, from INFO (cpu: it shares the machine with the server and the load; commandstats). */
async function redisUse(client: RedisClient): Promise<RedisUse> {
  const info = String(await client.sendCommand(['INFO', 'cpu', 'commandstats']));
  const field = (name: string) => Number(info.match(new RegExp(`^${name}:([0-9.]+)`, 'm'))?.[1] ?? NaN);
  const commands: RedisUse['commands'] = {};
  for (const [, name, calls, usec] of info.matchAll(/^cmdstat_([\w|-]+):calls=(\d+),usec=(\d+)/gm)) commands[(name as string).toUpperCase()] = { calls: Number(calls), usec: Number(usec) };
  return { cpuUs: (field('used_cpu_sys') + field('used_cpu_user')) * 1e6, commands };
}

/** What Redis spent between two readings; commands not called in between are left out (INFO itself too). */
function redisUsedSince(before: RedisUse, after: RedisUse): RedisUse {
  const commands: RedisUse['commands'] = {};
  for (const [name, now] of Object.entries(after.commands)) {
    const calls = now.calls - (before.commands[name]?.calls ?? 0);
    if (calls > 0 && name !== 'INFO') commands[name] = { calls, usec: now.usec - (before.commands[name]?.usec ?? 0) };
  }
  return { cpuUs: after.cpuUs - before.cpuUs, commands };
}

export async function runScenario(scenario: Scenario, settings: Settings): Promise<ScenarioResult> {
  settings.log(`▶ ${scenario.title}`);
  const servers: ServerProcess[] = [];
  let redis: RedisClient | undefined;
  try {
    // Started together (they idle until measured); one at a time while measuring.
    const started = await Promise.allSettled(
      scenario.variants.map((spec) =>
        ServerProcess.start(spec.variant, { ...(settings.cpuProfDir ? { cpuProfDir: settings.cpuProfDir } : {}), cores: settings.serverCores }),
      ),
    );
    for (const s of started) if (s.status === 'fulfilled') servers.push(s.value);
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    for (const server of servers) await scenario.prepare?.(server);
    for (const server of servers) scenario.observe?.(server, await load({ ...(await scenario.spec(server, true)), connections: settings.connections }));
    const runs: RunRecord[][] = scenario.variants.map(() => []);
    if (servers.some((server) => server.variant.store === 'redis') && settings.redisUrl) {
      redis = createClient({ url: settings.redisUrl });
      await redis.connect();
    }
    // Round 0 is measured like the others and then dropped: after the warm-up runs, the first
    // round still cost up to twice the CPU of the later ones (V8 still growing the young
    // generation and optimising), and its ratios were noise.
    let recordedFrom: CpuTicks | undefined;
    for (let run = -1; run < settings.runs; run++) {
      const recorded = run >= 0;
      const roundFrom = cpuTicks();
      if (run === 0) recordedFrom = roundFrom;
      // Counterbalanced: every other run goes through the servers in reverse, so that no variant
      // always runs first (right after the previous run's set-up) or always last.
      const order = run % 2 === 0 ? [...servers.entries()] : [...servers.entries()].reverse();
      // Every server's set-up first (a login run's pre-login sessions), then the measured runs
      // back to back: the runs of one round are as close in time as they can be, so that what
      // slows the machine for a while slows every variant of the round alike.
      const specs = new Map<ServerProcess, LoadSpec>();
      for (const [, server] of order) specs.set(server, await scenario.spec(server, false));
      for (const [i, server] of order) {
        const spec = specs.get(server) as LoadSpec;
        const onRedis = redis && server.variant.store === 'redis' ? redis : undefined;
        const redisBefore = onRedis ? await redisUse(onRedis) : undefined;
        await server.startMeasuring();
        const loadBefore = process.cpuUsage();
        const result = await load({ ...spec, connections: settings.connections });
        const loadUsed = process.cpuUsage(loadBefore);
        const sample = await server.stopMeasuring();
        const redisUsed = onRedis && redisBefore ? redisUsedSince(redisBefore, await redisUse(onRedis)) : undefined;
        scenario.observe?.(server, result);
        const measured = record(result, sample, redisUsed, loadUsed.user + loadUsed.system, settings.loadCores);
        if (recorded) runs[i]?.push(measured);
        // Past this, the load generator's side (not the server) may have set the pace.
        if ((measured.loadCoresBusy ?? 0) > 0.85)
          settings.log(`  warning: the load generator's core was ${Math.round(100 * (measured.loadCoresBusy ?? 0))}% busy in ${variantName(server)}'s run`);
      }
      if (!recorded) continue;
      const steal = stealPercent(roundFrom, cpuTicks());
      settings.log(
        `  run ${run + 1}/${settings.runs}: ` +
          scenario.variants
            .map((v, i) => {
              const r = runs[i]?.at(-1);
              return `${v.key} ${r?.rps ?? 0} req/s ${r?.cpuUsPerRequest ?? 0} µs (GC ${r?.gcYoungUsPerRequest ?? 0}+${r?.gcFullUsPerRequest ?? 0}, heap ${r?.heapUsedMiB ?? 0} MiB)`;
            })
            .join(' · ') +
          (steal === undefined ? '' : ` · steal ${steal}%`),
      );
    }
    const scenarioSteal = stealPercent(recordedFrom, cpuTicks());
    const base = runs[0] as RunRecord[];
    const variants = scenario.variants.map((spec, i): VariantResult => {
      const mine = runs[i] as RunRecord[];
      const pick = (rs: RunRecord[], f: 'rps' | 'p50Ms' | 'p99Ms' | 'cpuUsPerRequest') => rs.map((r) => r[f]);
      return {
        key: spec.key,
        label: spec.label,
        variant: { ...spec.variant, ...(spec.variant.redisUrl ? { redisUrl: '(private redis-server)' } : {}) },
        runs: mine,
        median: {
          rps: round(median(pick(mine, 'rps')), 1),
          p50Ms: median(pick(mine, 'p50Ms')),
          p99Ms: median(pick(mine, 'p99Ms')),
          cpuUsPerRequest: round(median(pick(mine, 'cpuUsPerRequest')), 1),
          gcUsPerRequest: round(median(mine.map((r) => r.gcYoungUsPerRequest + r.gcFullUsPerRequest)), 1),
          ...(mine.every((r) => r.redisCpuUsPerRequest !== undefined) && mine.length > 0
            ? { redisCpuUsPerRequest: round(median(mine.map((r) => r.redisCpuUsPerRequest as number)), 1), redisCommands: medianCommands(mine) }
            : {}),
        },
        ratio: {
          rps: round(pairedRatio(pick(base, 'rps'), pick(mine, 'rps')), 3),
          cpuUsPerRequest: round(pairedRatio(pick(base, 'cpuUsPerRequest'), pick(mine, 'cpuUsPerRequest')), 3),
          p50Ms: round(pairedRatio(pick(base, 'p50Ms'), pick(mine, 'p50Ms')), 3),
          p99Ms: round(pairedRatio(pick(base, 'p99Ms'), pick(mine, 'p99Ms')), 3),
        },
        spread: {
          rps: pairSpread(pick(base, 'rps'), pick(mine, 'rps')).map((x) => round(x, 3)) as [number, number],
          cpuUsPerRequest: pairSpread(pick(base, 'cpuUsPerRequest'), pick(mine, 'cpuUsPerRequest')).map((x) => round(x, 3)) as [number, number],
        },
        non2xx: mine.reduce((n, r) => n + r.non2xx, 0),
        errors: mine.reduce((n, r) => n + r.errors, 0),
      };
    });
    return {
      id: scenario.id,
      title: scenario.title,
      description: scenario.description,
      bounded: scenario.bounded,
      baseline: scenario.variants[0]?.label ?? '',
      variants,
      ...(scenarioSteal === undefined ? {} : { stealPercent: scenarioSteal }),
    };
  } finally {
    await redis?.close();
    await Promise.all(servers.map((s) => s.stop()));
  }
}
