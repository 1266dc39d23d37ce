/** The machine a result came from: without it a number means nothing. */
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  platform: string;
  kernel: string;
  node: string;
  v8: string;
  redis?: string;
  date: string;
  /** The commit the code under test came from, and whether src/ had uncommitted changes. */
  commit?: string;
  srcDirty?: boolean;
}

function packageVersion(name: string): string {
  try {
    const url = new URL(`../../node_modules/${name}/package.json`, import.meta.url);
    return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.type()} ${os.arch()}`,
    kernel: os.release(),
    node: process.version,
    v8: process.versions.v8,
    date: new Date().toISOString(),
  };
}

export function dependencyVersions(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ['express', 'express-session', 'connect-redis', 'redis', 'autocannon']) out[name] = packageVersion(name);
  return out;
}

/** HEAD and whether src/ differs from it: the runner builds the working tree into dist/ and servers run that. */
export function codeVersion(): { commit?: string; srcDirty?: boolean } {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { encoding: 'utf8' }).trim() !== '';
    return { commit, srcDirty: dirty };
  } catch {
    return {};
  }
}

/** The machine's CPU time so far, from /proc/stat (Linux; undefined elsewhere): all of it, and the part stolen. */
export interface CpuTicks {
  total: number;
  steal: number;
}

export function cpuTicks(): CpuTicks | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    // cpu  user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user)
    const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
    if (fields.length < 8 || fields.some((n) => !Number.isFinite(n))) return undefined;
    return { total: fields.reduce((a, b) => a + b, 0), steal: fields[7] as number };
  } catch {
    return undefined;
  }
}

/**
 * The share of the machine's CPU time between two readings that the hypervisor gave to other
 * guests (steal), in percent: on a shared host, a run with steal is slowed in ways the in-server
 * CPU time does not show (the cores run other guests' work between ours).
 */
export function stealPercent(from: CpuTicks | undefined, to: CpuTicks | undefined): number | undefined {
  if (!from || !to || to.total <= from.total) return undefined;
  return Math.round((1000 * (to.steal - from.steal)) / (to.total - from.total)) / 10;
}
