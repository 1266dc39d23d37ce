/** latest.json → latest.md: the tables, the machine, and the targets. */
import type { GrowthResult } from '../scenarios/growth.js';
import type { ScenarioResult } from '../scenarios/http.js';
import type { MemoryResult } from '../scenarios/memory.js';
import type { MachineInfo } from './machine.js';

export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean | null;
  margin: string;
}

export interface BenchReport {
  mode: 'quick' | 'full';
  machine: MachineInfo;
  loadAverage: { start: number[]; end: number[] };
  dependencies: Record<string, string>;
  settings: Record<string, unknown>;
  elapsedSeconds: number;
  http: ScenarioResult[];
  memory: MemoryResult[];
  growth?: GrowthResult | undefined;
  targets: TargetCheck[];
}

const pct = (ratio: number) => `${ratio >= 1 ? '+' : ''}${((ratio - 1) * 100).toFixed(1)}%`;

export function evaluateTargets(http: ScenarioResult[], growth: GrowthResult | undefined): TargetCheck[] {
  const checks: TargetCheck[] = [];
  for (const id of ['hot-memory', 'hot-redis']) {
    const s = http.find((x) => x.id === id);
    const g = s?.variants.find((v) => v.key === 'guard');
    if (!g) continue;
    const store = id.endsWith('redis') ? 'Redis' : 'MemoryStore';
    checks.push({
      target: `Hot path (${store}): guard CPU/request ≤ 1.10× plain`,
      measured: `${g.ratio.cpuUsPerRequest.toFixed(3)}×`,
      met: g.ratio.cpuUsPerRequest <= 1.1,
      margin: g.ratio.cpuUsPerRequest <= 1.1 ? `${pct(g.ratio.cpuUsPerRequest)} vs plain` : `over by ${((g.ratio.cpuUsPerRequest - 1.1) * 100).toFixed(1)} points`,
    });
    checks.push({
      target: `Hot path (${store}): guard throughput ≥ 0.90× plain`,
      measured: `${g.ratio.rps.toFixed(3)}×`,
      met: g.ratio.rps >= 0.9,
      margin: g.ratio.rps >= 0.9 ? `${pct(g.ratio.rps)} vs plain` : `short by ${((0.9 - g.ratio.rps) * 100).toFixed(1)} points`,
    });
  }
  const login = http.find((x) => x.id === 'login-redis');
  const atomic = login?.variants.find((v) => v.key === 'changeSessionId');
  if (atomic) {
    checks.push({
      target: 'Login on Redis: atomic changeSessionId ≥ as fast as plain regenerate + copy (req/s)',
      measured: `${atomic.ratio.rps.toFixed(3)}× req/s, ${atomic.ratio.cpuUsPerRequest.toFixed(3)}× CPU/login`,
      met: atomic.ratio.rps >= 1,
      margin: `${pct(atomic.ratio.rps)} req/s`,
    });
  }
  if (growth) {
    const largest = Math.max(...growth.points.map((p) => p.totalSessions));
    const p = growth.points.find((x) => x.totalSessions === largest && x.sessionsPerUser === 1000);
    if (p) {
      checks.push({
        target: `Revoke-all of a user with 1,000 sessions < 50 ms (Redis, ${largest.toLocaleString('en')} sessions in total)`,
        measured: `${p.revokeAllMs.toFixed(1)} ms`,
        met: p.revokeAllMs < 50,
        margin: p.revokeAllMs < 50 ? `${(50 - p.revokeAllMs).toFixed(1)} ms to spare` : `${(p.revokeAllMs / 50).toFixed(1)}× the budget`,
      });
    }
    const slopes = growth.perUserSlopeMs;
    const linear = Object.values(slopes).every((s) => !(s.r2 < 0.95));
    checks.push({
      target: "Index growth linear in the user's sessions (least-squares r² ≥ 0.95 over 1 → 10 → 1,000)",
      measured: Object.entries(slopes).map(([k, s]) => `${k.replace(/Ms$/, '')} ${(s.slopeMsPerSession * 1000).toFixed(1)} µs/session (r² ${s.r2})`).join('; '),
      met: linear,
      margin: linear ? 'linear' : 'not linear',
    });
    const worst = Math.max(...growth.otherUsersRatio.flatMap((r) => [r.loginCheck, r.list, r.revokeAll]).filter(Number.isFinite));
    checks.push({
      target: "Index growth constant in other users' sessions (time at the largest total ÷ smallest, ≤ 1.5× allowing for noise)",
      measured: growth.otherUsersRatio.map((r) => `${r.sessionsPerUser}/user: ${r.loginCheck}× / ${r.list}× / ${r.revokeAll}×`).join('; '),
      met: worst <= 1.5,
      margin: `worst ${worst}×`,
    });
  }
  return checks;
}

function table(head: string[], rows: Array<Array<string | number>>): string {
  const line = (cells: Array<string | number>) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

export function markdown(report: BenchReport): string {
  const m = report.machine;
  const out: string[] = [];
  out.push(`### Latest results (${report.mode === 'quick' ? '`--quick` run' : 'full run'}, ${m.date.slice(0, 10)})`);
  out.push('');
  out.push(
    `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.platform} ${m.kernel}; Node ${m.node}` +
      `${m.redis ? `; redis-server ${m.redis}` : ''}. Load average at start ${report.loadAverage.start.map((x) => x.toFixed(2)).join(' / ')}, ` +
      `at end ${report.loadAverage.end.map((x) => x.toFixed(2)).join(' / ')} (other work shared the machine). ` +
      `Run took ${Math.round(report.elapsedSeconds)} s; ${String(report.settings.runs)} interleaved runs per variant, medians; ` +
      `ratios are medians of per-run ratios against the first row of each table.`,
  );
  out.push('');
  if (m.commit) out.push(`Code: commit ${m.commit}${m.srcDirty ? ' plus uncommitted changes in src/' : ''} (built into dist/ by the runner; every variant runs the built ESM package).`, '');
  out.push(`Versions: ${Object.entries(report.dependencies).map(([k, v]) => `${k} ${v}`).join(', ')}.`);
  out.push('');
  out.push('#### Targets');
  out.push('');
  out.push(table(['target', 'measured', 'met', 'margin'], report.targets.map((t) => [t.target, t.measured, t.met === null ? '–' : t.met ? '✅ yes' : '❌ no', t.margin])));
  for (const s of report.http) {
    out.push('');
    out.push(`#### ${s.title}`);
    out.push('');
    out.push(`${s.description} Bounded: ${s.bounded}.`);
    out.push('');
    out.push(
      table(
        ['variant', 'req/s', 'p50 ms', 'p99 ms', 'CPU µs/req', 'req/s ×', 'CPU ×', 'non-2xx'],
        s.variants.map((v) => [
          v.label,
          v.median.rps.toFixed(0),
          v.median.p50Ms,
          v.median.p99Ms,
          v.median.cpuUsPerRequest.toFixed(0),
          v.ratio.rps.toFixed(3),
          v.ratio.cpuUsPerRequest.toFixed(3),
          v.non2xx + v.errors,
        ]),
      ),
    );
  }
  if (report.memory.length) {
    out.push('');
    out.push(`#### Memory: heap per session at ${report.memory[0]?.count.toLocaleString('en')} sessions (MemoryStore, in-process)`);
    out.push('');
    out.push(
      table(
        ['what is stored per login', 'heap B/session', '×', 'heap MiB', 'store keys', 'record JSON B'],
        report.memory.map((r) => [
          r.kind === 'plain' ? 'express-session: record' : r.kind === 'guard' ? 'sessionGuard: record + index entry' : 'sessionGuard: record + index entry + pre-login tombstone',
          r.heapBytesPerSession,
          (r.ratio ?? Number.NaN).toFixed(2),
          r.heapUsedDeltaMiB,
          r.storeKeys,
          r.recordBytes,
        ]),
      ),
    );
  }
  const g = report.growth;
  if (g) {
    out.push('');
    out.push("#### Growth (Redis): one user's index operations, median ms");
    out.push('');
    out.push(`Filler (other users, ${10} sessions each) bulk-loaded in ${g.fillerLoadSeconds} s.`);
    out.push('');
    out.push(
      table(
        ['total sessions', 'keys in Redis', 'sessions of the user', 'login check (admit at limit + evict)', 'list (listSessions)', 'revoke-all (revokeSessions)'],
        g.points.map((p) => [p.totalSessions.toLocaleString('en'), p.dbsize.toLocaleString('en'), p.sessionsPerUser.toLocaleString('en'), p.loginCheckMs, p.listMs, p.revokeAllMs]),
      ),
    );
  }
  out.push('');
  return out.join('\n');
}
