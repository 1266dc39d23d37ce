/**
 * `npm run bench [-- --quick] [-- --only hot,young,visit,login,memory,tombstones,growth,mcp] [-- --no-redis] [-- --cpu-prof] [-- --no-build] [-- --no-pin] [-- --runs N] [-- --duration S] [-- --connections N]`
 *
 * Runs every scenario (servers in their own processes, variants interleaved, medians, ratios),
 * then writes benchmarks/results/latest.json and latest.md. `--quick` is the short version
 * (under two minutes); the full run takes about twenty minutes.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { startRedisServer, type RunningRedis } from '../scripts/redis-server.js';
import { buildDist } from './lib/build.js';
import { DEFAULT_CONNECTIONS } from './lib/load.js';
import { describePinning, pin, pinningPlan } from './lib/pinning.js';
import { codeVersion, cpuTicks, dependencyVersions, machineInfo, stealPercent } from './lib/machine.js';
import { evaluateTargets, markdown, type BenchReport } from './lib/report.js';
import type { GrowthResult } from './scenarios/growth.js';
import type { ScenarioResult, Settings } from './scenarios/http.js';
import type { MemoryResult } from './scenarios/memory.js';
import { mcpPreAuthMarkdown, runMcpPreAuth, type McpPreAuthResult } from './scenarios/mcp-preauth.js';
import type { TombstoneResult } from './scenarios/tombstones.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const noRedis = args.includes('--no-redis');
const onlyArg = args.find((a) => a.startsWith('--only'));
const only = onlyArg
  ? (onlyArg.includes('=') ? onlyArg.split('=')[1] : args[args.indexOf(onlyArg) + 1])?.split(',')
  : undefined;
const wants = (name: string) => !only || only.includes(name);
const RESULTS = fileURLToPath(new URL('./results/', import.meta.url));

const started = performance.now();
// Every variant runs the built package (dist/), as users do: build the working tree first, and
// only then load the scenarios (they load dist/ when imported).
if (!args.includes('--no-build')) await buildDist();
const { runGrowth } = await import('./scenarios/growth.js');
const { httpScenarios, runScenario } = await import('./scenarios/http.js');
const { runMemory } = await import('./scenarios/memory.js');
const { runTombstones } = await import('./scenarios/tombstones.js');
const log = (line: string) =>
  process.stdout.write(
    `[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`,
  );

const settings: Settings = quick
  ? { quick, runs: 3, duration: 1, warmup: 0.5, logins: 2000, connections: DEFAULT_CONNECTIONS, log }
  : { quick, runs: 11, duration: 2, warmup: 2, logins: 2000, connections: DEFAULT_CONNECTIONS, log };
// For trying a method out: `--runs N`, `--duration S` (seconds of a measured run), `--connections N` (requests in flight).
function numberArg(name: string, integer: boolean): number | undefined {
  if (args.some((a) => a.startsWith(`${name}=`))) throw new Error(`${name} takes its value as the next argument: ${name} N`);
  const at = args.indexOf(name);
  if (at === -1) return undefined;
  const value = Number(args[at + 1]);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value)))
    throw new Error(`${name} needs a positive ${integer ? 'integer' : 'number'}, got ${String(args[at + 1])}`);
  return value;
}
settings.runs = numberArg('--runs', true) ?? settings.runs;
settings.duration = numberArg('--duration', false) ?? settings.duration;
settings.connections = numberArg('--connections', true) ?? settings.connections;
let pinning = args.includes('--no-pin') ? undefined : pinningPlan();
if (pinning) {
  try {
    pin(process.pid, pinning.load);
    settings.serverCores = pinning.server;
    settings.loadCores = pinning.load.length;
  } catch (err) {
    log(`warning: running unpinned: ${(err as Error).message}`);
    pinning = undefined;
  }
}
if (args.includes('--cpu-prof')) {
  settings.cpuProfDir = `${RESULTS}profiles`;
  mkdirSync(settings.cpuProfDir, { recursive: true });
}
const memoryCount = quick ? 25_000 : 100_000;
const growthTotals = quick ? [10_000, 100_000] : [10_000, 100_000, 1_000_000];
const growthPerUser = [1, 10, 1000];

function redisVersion(): string | undefined {
  try {
    return execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).match(/v=(\S+)/)?.[1];
  } catch {
    return undefined;
  }
}

let redis: RunningRedis | undefined;
const loadStart = os.loadavg();
const ticksStart = cpuTicks();
const code = codeVersion();
const http: ScenarioResult[] = [];
let memory: MemoryResult[] = [];
let growth: GrowthResult | undefined;
let tombstones: TombstoneResult | undefined;
let mcpPreAuth: McpPreAuthResult | undefined;
try {
  if (!noRedis) {
    // Started by this process, redis-server inherits its cores (the load generator's when pinned).
    redis = await startRedisServer();
    settings.redisUrl = redis.url;
    log(`redis-server on ${redis.url} (private, persistence off)`);
  }
  for (const scenario of httpScenarios(settings)) {
    const family =
      scenario.id.split('-')[0] === 'first' ? 'visit' : (scenario.id.split('-')[0] as string);
    if (!wants(family)) continue;
    // The young-generation comparisons are no target: --quick (under two minutes) runs them only when asked.
    if (quick && family === 'young' && !only?.includes('young')) continue;
    http.push(await runScenario(scenario, settings));
  }
  // The in-process scenarios (memory, tombstones, growth, MCP) run on every core, as before.
  if (pinning) {
    pin(process.pid, pinning.allowed);
    if (redis?.pid !== undefined) pin(redis.pid, pinning.allowed);
  }
  if (wants('memory')) memory = await runMemory(memoryCount, log);
  if (wants('tombstones')) tombstones = await runTombstones(quick ? 50 : 200, log);
  if (wants('mcp')) mcpPreAuth = await runMcpPreAuth(quick ? 500 : 2000, log);
  if (wants('growth') && redis) {
    growth = await runGrowth({
      redisUrl: redis.url,
      totals: growthTotals,
      perUser: growthPerUser,
      reps: quick ? 7 : 25,
      revokeReps: quick ? 5 : 9,
      log,
    });
  }
} finally {
  await redis?.stop();
}

const machine = { ...machineInfo(), ...code };
const version = redisVersion();
if (version) machine.redis = version;
const report: BenchReport = {
  mode: quick ? 'quick' : 'full',
  machine,
  loadAverage: { start: loadStart, end: os.loadavg() },
  stealPercent: stealPercent(ticksStart, cpuTicks()),
  dependencies: dependencyVersions(),
  settings: {
    runs: settings.runs,
    durationSeconds: settings.duration,
    warmupSeconds: settings.warmup,
    connections: settings.connections,
    pinning: describePinning(pinning),
    memorySessions: memoryCount,
    growthTotals,
    growthPerUser,
  },
  elapsedSeconds: Math.round((performance.now() - started) / 100) / 10,
  http,
  memory,
  growth,
  tombstones,
  targets: evaluateTargets({ http, memory, growth, tombstones }),
};
mkdirSync(RESULTS, { recursive: true });
writeFileSync(`${RESULTS}latest.json`, `${JSON.stringify({ ...report, mcpPreAuth }, null, 2)}\n`);
writeFileSync(`${RESULTS}latest.md`, markdown(report) + (mcpPreAuth ? mcpPreAuthMarkdown(mcpPreAuth) : ''));
log(`wrote benchmarks/results/latest.json and latest.md (${report.elapsedSeconds} s)`);
for (const t of report.targets)
  log(`${t.met === null ? 'NOTE  ' : t.met ? 'MET   ' : 'MISSED'} ${t.target}: ${t.measured} (${t.margin})`);
