/** latest.json → latest.md: the tables, the machine, and the targets. */
import type { GrowthResult } from '../scenarios/growth.js';
import type { ScenarioResult } from '../scenarios/http.js';
import type { MemoryResult } from '../scenarios/memory.js';
import type { TombstoneResult } from '../scenarios/tombstones.js';
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
  /** CPU steal over the whole run, in percent of the machine's CPU time (Linux only). */
  stealPercent?: number | undefined;
  dependencies: Record<string, string>;
  settings: Record<string, unknown>;
  elapsedSeconds: number;
  http: ScenarioResult[];
  memory: MemoryResult[];
  growth?: GrowthResult | undefined;
  tombstones?: TombstoneResult | undefined;
  targets: TargetCheck[];
}

const pct = (ratio: number) => `${ratio >= 1 ? '+' : ''}${((ratio - 1) * 100).toFixed(1)}%`;

export interface TargetInputs {
  http: ScenarioResult[];
  memory: MemoryResult[];
  growth?: GrowthResult | undefined;
  tombstones?: TombstoneResult | undefined;
}

const REVOKE_ALL_BUDGET_MS = 10;

/** A ratio target: `at most` (CPU, memory) or `at least` (throughput) `limit` × the baseline. */
function ratioCheck(
  target: string,
  measured: number,
  limit: number,
  direction: 'atMost' | 'atLeast',
  detail = '',
  spread?: readonly [number, number],
): TargetCheck {
  const met = direction === 'atMost' ? measured <= limit : measured >= limit;
  const points = Math.abs(measured - limit) * 100;
  const margin = met
    ? `${pct(measured)} vs plain`
    : `${direction === 'atMost' ? 'over' : 'short'} by ${points.toFixed(1)} points`;
  return { target, measured: `${measured.toFixed(3)}×${spread ? ` ${spreadText(spread)}` : ''}${detail}`, met, margin };
}

/** The middle half of the per-pair ratios, as the targets table shows it: `[0.912–0.974]`. */
const spreadText = ([lo, hi]: readonly [number, number]) => `[${lo.toFixed(3)}–${hi.toFixed(3)}]`;

/**
 * A row beside the targets that is no target (`met: null`): the same comparison with both
 * servers given the Node options `flags` (a server-sized young generation).
 */
function comparison(what: string, flags: string[] | undefined, measured: string, margin: string): TargetCheck {
  return { target: `${what}, both servers with \`${flags?.join(' ') ?? ''}\` (comparison, not a target)`, measured, met: null, margin };
}

/** Every row of the performance targets, each met or not (a row whose scenario did not run is left out). */
export function evaluateTargets({ http, memory, growth, tombstones }: TargetInputs): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const storeName = (id: string) => (id.endsWith('redis') ? 'Redis' : 'MemoryStore');
  /** The guard's row of a scenario (absent when the scenario did not run). */
  const guardOf = (id: string) =>
    http.find((x) => x.id === id)?.variants.find((v) => v.key === 'guard');
  for (const id of ['hot-memory', 'hot-redis']) {
    const g = guardOf(id);
    if (!g) continue;
    checks.push(
      ratioCheck(
        `Hot path (${storeName(id)}): guard CPU/request ≤ 1.10× plain`,
        g.ratio.cpuUsPerRequest,
        1.1,
        'atMost',
        '',
        g.spread.cpuUsPerRequest,
      ),
    );
    checks.push(
      ratioCheck(
        `Hot path (${storeName(id)}): guard throughput ≥ 0.90× plain`,
        g.ratio.rps,
        0.9,
        'atLeast',
        '',
        g.spread.rps,
      ),
    );
  }
  for (const id of ['young-hot-memory', 'young-hot-redis']) {
    // The targets are on Node's defaults: this says how much of the gap is garbage collection.
    const g = guardOf(id);
    if (!g) continue;
    checks.push(
      comparison(
        `Hot path (${storeName(id)})`,
        g.variant.nodeFlags,
        `${g.ratio.cpuUsPerRequest.toFixed(3)}× CPU/request, ${g.ratio.rps.toFixed(3)}× throughput`,
        `${pct(g.ratio.cpuUsPerRequest)} CPU vs plain`,
      ),
    );
  }
  for (const id of ['first-visit-memory', 'first-visit-redis']) {
    const g = guardOf(id);
    if (!g) continue;
    checks.push(
      ratioCheck(
        `First visit (${storeName(id)}): guard CPU/request ≤ 1.05× plain`,
        g.ratio.cpuUsPerRequest,
        1.05,
        'atMost',
        '',
        g.spread.cpuUsPerRequest,
      ),
    );
  }
  for (const [id, store, limit] of [
    ['login-redis', 'Redis', 1],
    ['login-memory', 'MemoryStore', 0.9],
  ] as const) {
    // One target per rotation strategy, on the store as shipped. The variant without the rename
    // script (what a third-party store without the atomic extensions falls back to) stays in
    // the table for comparison; it is not a strategy.
    for (const v of http.find((x) => x.id === id)?.variants.slice(1).filter((x) => !x.key.endsWith('-nonatomic')) ?? []) {
      const target = `Login on ${store} (${v.label.replace(/^sessionGuard /, '')}): logins/s ≥ ${limit.toFixed(2)}× plain regenerate + copy`;
      checks.push(
        ratioCheck(
          target,
          v.ratio.rps,
          limit,
          'atLeast',
          ` logins/s, ${v.ratio.cpuUsPerRequest.toFixed(3)}× CPU/login`,
          v.spread.rps,
        ),
      );
    }
  }
  for (const id of ['young-login-memory', 'young-login-redis']) {
    const v = http.find((x) => x.id === id)?.variants[1];
    if (!v) continue;
    checks.push(
      comparison(
        `Login on ${storeName(id)} (${v.label.replace(/^sessionGuard /, '')})`,
        v.variant.nodeFlags,
        `${v.ratio.rps.toFixed(3)}× logins/s, ${v.ratio.cpuUsPerRequest.toFixed(3)}× CPU/login`,
        `${pct(v.ratio.rps)} logins/s vs plain`,
      ),
    );
  }
  const guardMemory = memory.find((r) => r.kind === 'guard');
  if (guardMemory?.ratio !== undefined) {
    const plain = memory.find((r) => r.kind === 'plain');
    checks.push(
      ratioCheck(
        `Memory per live session (${guardMemory.count.toLocaleString('en')} sessions, record + index entry) ≤ 1.5× plain`,
        guardMemory.ratio,
        1.5,
        'atMost',
        ` (${guardMemory.heapBytesPerSession} B vs ${plain?.heapBytesPerSession ?? '?'} B)`,
      ),
    );
  }
  if (growth) {
    const largest = Math.max(...growth.points.map((p) => p.totalSessions));
    const p = growth.points.find((x) => x.totalSessions === largest && x.sessionsPerUser === 1000);
    if (p) {
      const met = p.revokeAllMs <= REVOKE_ALL_BUDGET_MS;
      checks.push({
        target: `Revoke-all of a user with 1,000 sessions ≤ ${REVOKE_ALL_BUDGET_MS} ms (Redis, ${largest.toLocaleString('en')} sessions in total${largest < 1_000_000 ? '; the full run measures 1,000,000' : ''})`,
        measured: `${p.revokeAllMs.toFixed(1)} ms`,
        met,
        margin: met
          ? `${(REVOKE_ALL_BUDGET_MS - p.revokeAllMs).toFixed(1)} ms to spare`
          : `${(p.revokeAllMs / REVOKE_ALL_BUDGET_MS).toFixed(1)}× the budget`,
      });
    }
    const slopes = growth.perUserSlopeMs;
    const linear = Object.values(slopes).every((s) => !(s.r2 < 0.95));
    checks.push({
      target:
        "Index growth linear in the user's sessions (least-squares r² ≥ 0.95 over 1 → 10 → 1,000)",
      measured: Object.entries(slopes)
        .map(
          ([k, s]) =>
            `${k.replace(/Ms$/, '')} ${(s.slopeMsPerSession * 1000).toFixed(1)} µs/session (r² ${s.r2})`,
        )
        .join('; '),
      met: linear,
      margin: linear ? 'linear' : 'not linear',
    });
    const worst = Math.max(
      ...growth.otherUsersRatio
        .flatMap((r) => [r.loginCheck, r.list, r.revokeAll])
        .filter(Number.isFinite),
    );
    checks.push({
      target:
        "Index growth constant in other users' sessions (time at the largest total ÷ smallest, ≤ 1.5× allowing for noise)",
      measured: growth.otherUsersRatio
        .map((r) => `${r.sessionsPerUser}/user: ${r.loginCheck}× / ${r.list}× / ${r.revokeAll}×`)
        .join('; '),
      met: worst <= 1.5,
      margin: `worst ${worst}×`,
    });
  }
  if (tombstones) {
    const t = tombstones;
    const bound = t.logins + t.logouts;
    const met =
      t.tombstonesAfterNoSession === 0 &&
      t.tombstones <= bound &&
      t.longestLifetimeMs <= t.tombstoneTtlMs;
    checks.push({
      target:
        'Tombstones bounded: none for requests without a stored session; at most one per rotation or logout, living ≤ tombstoneTtl',
      measured:
        `${t.tombstonesAfterNoSession} after ${t.noSessionRequests} requests without a session; ${t.tombstones} after ${t.logins} logins + ${t.logouts} logouts; ` +
        `longest ${(t.longestLifetimeMs / 60_000).toFixed(1)} min of ${(t.tombstoneTtlMs / 60_000).toFixed(0)}`,
      met,
      margin: met ? `${bound - t.tombstones} under the bound` : 'unbounded',
    });
  }
  return checks;
}

/** `EVALSHA 26.1 (×1) · GET 4.4 (×2) · …`, the most expensive first. */
function commandsCell(commands: Record<string, { calls: number; us: number }>): string {
  const list = Object.entries(commands).sort(([, a], [, b]) => b.us - a.us);
  return list.length === 0 ? '–' : list.map(([name, c]) => `${name} ${c.us.toFixed(1)} (×${c.calls})`).join(' · ');
}

function table(head: string[], rows: Array<Array<string | number>>): string {
  const line = (cells: Array<string | number>) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

export function markdown(report: BenchReport): string {
  const m = report.machine;
  const out: string[] = [];
  out.push(
    `### Latest results (${report.mode === 'quick' ? '`--quick` run' : 'full run'}, ${m.date.slice(0, 10)})`,
  );
  out.push('');
  out.push(
    `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.platform} ${m.kernel}; Node ${m.node}` +
      `${m.redis ? `; redis-server ${m.redis}` : ''}. Load average at start ${report.loadAverage.start.map((x) => x.toFixed(2)).join(' / ')}, ` +
      `at end ${report.loadAverage.end.map((x) => x.toFixed(2)).join(' / ')} (other work shared the machine). ` +
      `${report.stealPercent === undefined ? '' : `CPU steal (time the host gave other guests) ${report.stealPercent}% of the run's CPU time. `}` +
      `Run took ${Math.round(report.elapsedSeconds)} s; ${String(report.settings.runs)} interleaved runs per variant, medians; ` +
      `ratios are medians of per-run ratios against the first row of each table, and a target's [brackets] give the middle half of those per-run ratios (how far one pair moves)` +
      `${typeof report.settings.pinning === 'string' ? `; ${report.settings.pinning}` : ''}.`,
  );
  out.push('');
  if (m.commit)
    out.push(
      `Code: commit ${m.commit}${m.srcDirty ? ' plus uncommitted changes in src/' : ''} (built into dist/ by the runner; every variant runs the built ESM package).`,
      '',
    );
  out.push(
    `Versions: ${Object.entries(report.dependencies)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}.`,
  );
  out.push('');
  out.push('#### Targets');
  out.push('');
  out.push(
    table(
      ['target', 'measured', 'met', 'margin'],
      report.targets.map((t) => [
        t.target,
        t.measured,
        t.met === null ? '–' : t.met ? '✅ yes' : '❌ no',
        t.margin,
      ]),
    ),
  );
  for (const s of report.http) {
    out.push('');
    out.push(`#### ${s.title}`);
    out.push('');
    out.push(`${s.description} Bounded: ${s.bounded}.${s.stealPercent === undefined ? '' : ` CPU steal in its recorded rounds: ${s.stealPercent}%.`}`);
    out.push('');
    // On Redis, the redis-server's CPU per request too: it shares the machine's cores.
    const onRedis = s.variants.every((v) => v.median.redisCpuUsPerRequest !== undefined);
    out.push(
      table(
        ['variant', 'req/s', 'p50 ms', 'p99 ms', 'CPU µs/req', 'of which GC pauses', ...(onRedis ? ['Redis CPU µs/req'] : []), 'req/s ×', 'CPU ×', 'non-2xx'],
        s.variants.map((v) => [
          v.label,
          v.median.rps.toFixed(0),
          v.median.p50Ms,
          v.median.p99Ms,
          v.median.cpuUsPerRequest.toFixed(0),
          v.median.gcUsPerRequest.toFixed(0),
          ...(onRedis ? [(v.median.redisCpuUsPerRequest as number).toFixed(0)] : []),
          v.ratio.rps.toFixed(3),
          v.ratio.cpuUsPerRequest.toFixed(3),
          v.non2xx + v.errors,
        ]),
      ),
    );
    // Runs recorded before the benchmark read INFO commandstats have no breakdown.
    if (onRedis && s.variants.some((v) => Object.keys(v.median.redisCommands ?? {}).length > 0)) {
      out.push('');
      out.push(
        "Redis's own time per request, by command (`INFO commandstats`, medians: µs, and calls per request). A script's time (EVALSHA) includes the commands it ran, which are listed too; the time reading and writing the connections is in the CPU column only.",
      );
      out.push('');
      out.push(table(['variant', 'µs per request, by command'], s.variants.map((v) => [v.label, commandsCell(v.median.redisCommands ?? {})])));
    }
  }
  if (report.memory.length) {
    out.push('');
    out.push(
      `#### Memory: heap per session at ${report.memory[0]?.count.toLocaleString('en')} sessions (MemoryStore, in-process)`,
    );
    out.push('');
    out.push(
      table(
        [
          'what is stored per login',
          'heap B/session',
          '×',
          'heap MiB',
          'store keys',
          'record JSON B',
        ],
        report.memory.map((r) => [
          r.kind === 'plain'
            ? 'express-session: record'
            : r.kind === 'guard'
              ? 'sessionGuard: record + index entry'
              : 'sessionGuard: record + index entry + pre-login tombstone',
          r.heapBytesPerSession,
          (r.ratio ?? Number.NaN).toFixed(2),
          r.heapUsedDeltaMiB,
          r.storeKeys,
          r.recordBytes,
        ]),
      ),
    );
  }
  const t = report.tombstones;
  if (t) {
    out.push('');
    out.push('#### Tombstones (MemoryStore, in-process)');
    out.push('');
    out.push(
      table(
        ['requests', 'tombstones stored', 'bound'],
        [
          [
            `${t.noSessionRequests} without a stored session (no cookie, a forged signed cookie, an unsigned one; POST /logout and GET /me)`,
            t.tombstonesAfterNoSession,
            0,
          ],
          [
            `then ${t.logins} logins and ${t.logouts} logouts (each logout replayed once)`,
            t.tombstones,
            t.logins + t.logouts,
          ],
        ],
      ),
    );
    out.push('');
    out.push(
      `Longest remaining lifetime of a stored tombstone: ${(t.longestLifetimeMs / 60_000).toFixed(1)} min (tombstoneTtl ${(t.tombstoneTtlMs / 60_000).toFixed(0)} min).`,
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
        [
          'total sessions',
          'keys in Redis',
          'sessions of the user',
          'login check (admit at limit + evict)',
          'list (listSessions)',
          'revoke-all (revokeSessions)',
        ],
        g.points.map((p) => [
          p.totalSessions.toLocaleString('en'),
          p.dbsize.toLocaleString('en'),
          p.sessionsPerUser.toLocaleString('en'),
          p.loginCheckMs,
          p.listMs,
          p.revokeAllMs,
        ]),
      ),
    );
  }
  out.push('');
  return out.join('\n');
}
