/**
 * CPU pinning (Linux `taskset`): the measured server gets a core of its own, and the load
 * generator (this process, which runs autocannon) and redis-server share the rest. Unpinned, the
 * scheduler moved the server, its GC threads, the load and Redis between the cores as each run
 * went, and one variant's run could take twice another's CPU per request on the same code.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';

export interface Pinning {
  /** The cores of the measured servers. */
  server: number[];
  /** The cores of the load generator (the runner) and of redis-server. */
  load: number[];
}

/** The plan on this machine, or undefined where pinning is not possible (under 2 cores, no taskset). */
export function pinningPlan(): Pinning | undefined {
  const cores = os.availableParallelism();
  if (cores < 2) return undefined;
  if (spawnSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' }).status !== 0) return undefined;
  const all = Array.from({ length: cores }, (_, i) => i);
  return { server: all.slice(-1), load: all.slice(0, -1) };
}

/** Pins every thread of a process (`taskset -a`); threads it starts later inherit the mask. */
export function pin(pid: number, cores: readonly number[]): void {
  const result = spawnSync('taskset', ['-a', '-p', '-c', cores.join(','), String(pid)], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`taskset could not pin process ${pid} to cores ${cores.join(',')}: ${result.stderr.trim()}`);
}

export function describePinning(pinning: Pinning | undefined): string {
  return pinning
    ? `each measured server pinned to core ${pinning.server.join(',')}, the load generator and redis-server to core ${pinning.load.join(',')} (taskset)`
    : 'no CPU pinning (`--no-pin`, or no taskset or under 2 cores)';
}
