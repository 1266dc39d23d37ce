/**
 * Reading `node --cpu-prof` profiles: the top frames of one, and the difference of two (plain
 * express-session and the guard under the same load) per request, frame by frame and by package.
 */
import { fileURLToPath } from 'node:url';

export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  /** µs, on the clock of `process.hrtime` (CLOCK_MONOTONIC on Linux), like `timeDeltas` after it. */
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}
/** The part of a profile to read, in µs of `process.hrtime` (the load's start and end). */
export interface Window {
  fromUs: number;
  toUs: number;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  // ESM frames are percent-encoded file: URLs; CommonJS ones plain paths.
  const file = (url.startsWith('file:') ? fileURLToPath(url) : url).replace(/^.*\/node_modules\//, '~/').replace(ROOT, '');
  return `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`;
}

/** Where a frame's code lives: the guard's own (`dist/`), a package, Node itself, or V8's pseudo-frames. */
export function groupOf(frame: string): string {
  const at = frame.lastIndexOf(' ');
  const file = frame.slice(at + 1);
  if (file.startsWith('dist/') || file.startsWith('src/')) return 'fixation-guard (dist/)';
  if (file.startsWith('~/')) {
    const parts = file.slice(2).split('/');
    return (parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]) ?? 'packages';
  }
  if (file.startsWith('node:')) return 'node (JS)';
  if (file.startsWith('benchmarks/')) return 'bench app';
  const name = frame.slice(0, at);
  return name.startsWith('(') ? name : 'node (native)';
}

/** Self time (µs) per frame, and the total, of the samples inside `window` (all of them without one). */
export function selfTimes(profile: CpuProfile, window?: Window): { self: Map<string, number>; totalUs: number } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let totalUs = 0;
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    at += dt;
    if (window && (at < window.fromUs || at > window.toUs)) continue;
    const node = byId.get(profile.samples[i] as number);
    if (!node) continue;
    const name = frameName(node);
    self.set(name, (self.get(name) ?? 0) + dt);
    totalUs += dt;
  }
  return { self, totalUs };
}

export function summarize(profile: CpuProfile, top = 25): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
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
    const own = frameName(node);
    self.set(own, (self.get(own) ?? 0) + us);
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
  for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(us)}  ${name}`);
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

/** One side of a comparison: its profile, the load's window in it, and the requests the load made. */
export interface ProfiledLoad {
  label: string;
  profile: CpuProfile;
  window: Window;
  requests: number;
}

/**
 * µs per request of `b` against `a`, inside each one's load window: the total (idle included),
 * each group of code, and the frames that differ most. Sampled (a sample per millisecond by
 * default): a frame's difference under about 1 µs per request is within the sampling's noise.
 */
export function compareProfiles(a: ProfiledLoad, b: ProfiledLoad, top = 30): string {
  const x = selfTimes(a.profile, a.window);
  const y = selfTimes(b.profile, b.window);
  const per = (us: number, requests: number) => (requests > 0 ? us / requests : 0);
  const cell = (v: number) => v.toFixed(1).padStart(8);
  const row = (name: string, av: number, bv: number) => `${cell(av)}${cell(bv)}${cell(bv - av)}  ${name}`;
  const header = `${'a'.padStart(8)}${'b'.padStart(8)}${'b − a'.padStart(8)}  (µs per request; a = ${a.label}, b = ${b.label})`;
  const lines = [header, row('total sampled, idle included', per(x.totalUs, a.requests), per(y.totalUs, b.requests)), '', 'by group:'];
  const groups = new Map<string, [number, number]>();
  for (const [i, sideTimes] of [x.self, y.self].entries()) {
    for (const [frame, us] of sideTimes) {
      const group = groupOf(frame);
      const entry = groups.get(group) ?? [0, 0];
      entry[i as 0 | 1] += us;
      groups.set(group, entry);
    }
  }
  const scaled = (pair: [number, number]): [number, number] => [per(pair[0], a.requests), per(pair[1], b.requests)];
  for (const [name, pair] of [...groups].map(([n, p]) => [n, scaled(p)] as const).sort((p, q) => Math.abs(q[1][1] - q[1][0]) - Math.abs(p[1][1] - p[1][0]))) {
    lines.push(row(name, pair[0], pair[1]));
  }
  lines.push('', `frames that differ most (self time):`);
  const frames = new Set([...x.self.keys(), ...y.self.keys()]);
  const diffs = [...frames].map((f) => [f, per(x.self.get(f) ?? 0, a.requests), per(y.self.get(f) ?? 0, b.requests)] as const);
  for (const [f, av, bv] of diffs.sort((p, q) => Math.abs(q[2] - q[1]) - Math.abs(p[2] - p[1])).slice(0, top)) lines.push(row(f, av, bv));
  return lines.join('\n');
}
