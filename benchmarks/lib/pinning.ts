/**
 * CPU pinning (Linux `taskset`) for the HTTP scenarios: the measured servers get a core of
 * their own, and the load generator (this process, which runs autocannon) and redis-server share
 * the rest. Unpinned, the scheduler moved the server, its GC threads, the load and Redis between
 * the cores as each run went, and a server's throughput depended on how much of the other core
 * it got.
 */
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

export interface Pinning {
  /** Every core this process may use (what `restore` gives back). */
  allowed: number[];
  /** The cores of the measured servers. */
  server: number[];
  /** The cores of the load generator (the runner) and of redis-server. */
  load: number[];
}

/** A kernel CPU list (`0-3,5`) as core numbers. */
export function parseCpuList(list: string): number[] {
  const cores: number[] = [];
  for (const part of list.trim().split(',')) {
    if (part === '') continue;
    const [from, to] = part.split('-').map((n) => Number(n));
    if (!Number.isInteger(from) || (to !== undefined && !Number.isInteger(to))) return [];
    for (let core = from as number; core <= (to ?? (from as number)); core++) cores.push(core);
  }
  return cores;
}

/** The cores this process may run on (they need not be numbered from 0), or [] when unknown. */
function allowedCores(): number[] {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    return parseCpuList(status.match(/^Cpus_allowed_list:\s*(.+)$/m)?.[1] ?? '');
  } catch {
    return [];
  }
}

/** The plan on this machine, or undefined where pinning is not possible (under 2 cores, no taskset). */
export function pinningPlan(): Pinning | undefined {
  const allowed = allowedCores();
  if (allowed.length < 2) return undefined;
  if (spawnSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' }).status !== 0) return undefined;
  return { allowed, server: allowed.slice(-1), load: allowed.slice(0, -1) };
}

/** Pins every thread of a process (`taskset -a`); threads it starts later inherit the mask. Throws when taskset fails. */
export function pin(pid: number, cores: readonly number[]): void {
  const result = spawnSync('taskset', ['-a', '-p', '-c', cores.join(','), String(pid)], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`taskset could not pin process ${pid} to cores ${cores.join(',')}: ${(result.stderr ?? '').trim()}`);
}

export function describePinning(pinning: Pinning | undefined): string {
  return pinning
    ? `HTTP scenarios pinned: the measured servers on core ${pinning.server.join(',')} (one loaded at a time), the load generator and redis-server on core ${pinning.load.join(',')} (taskset); the other scenarios unpinned`
    : 'no CPU pinning (`--no-pin`, or no taskset or under 2 cores)';
}
