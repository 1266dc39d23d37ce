/**
 * Starts a throw-away Redis Cluster of three primaries (no replicas) on free loopback ports,
 * for the tests and the benchmarks: `redis-server --cluster-enabled yes` three times, then
 * `redis-cli --cluster create`. Each node keeps an append-only file fsynced before every reply
 * in a temporary directory, so a node killed and restarted on the same port comes back with
 * its slots and every write it acknowledged. `stop()` removes the directory.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'node:net';
import { ensureRedisServerBinary, freePort, startRedisServer, type RunningRedis } from './redis-server.js';

const READY_TIMEOUT_MS = 30_000;

export interface RunningRedisCluster {
  /** `redis://127.0.0.1:<port>` of each primary. */
  readonly urls: string[];
  readonly nodes: RunningRedis[];
  stop(): Promise<void>;
}

/** Sends one inline command to 127.0.0.1:port and resolves to the raw reply text. */
export function command(port: number, line: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    socket.setTimeout(1_000);
    socket.on('connect', () => socket.write(`${line}\r\n`));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      // A bulk reply ($len\r\n…\r\n) or a one-line reply.
      const bulk = /^\$(\d+)\r\n/.exec(reply);
      if ((bulk && reply.length >= bulk[0].length + Number(bulk[1]) + 2) || (!bulk && reply.includes('\r\n') && !reply.startsWith('$'))) {
        socket.destroy();
        resolve(reply);
      }
    });
    socket.on('timeout', () => {
      socket.destroy();
      resolve(reply);
    });
    socket.on('error', () => resolve(''));
  });
}

async function clusterOk(port: number): Promise<boolean> {
  return (await command(port, 'CLUSTER INFO')).includes('cluster_state:ok');
}

/** Waits until every given node reports `cluster_state:ok`. */
export async function waitForClusterOk(ports: number[], timeoutMs = READY_TIMEOUT_MS): Promise<void> {
  const started = Date.now();
  for (;;) {
    const states = await Promise.all(ports.map(clusterOk));
    if (states.every(Boolean)) return;
    if (Date.now() - started > timeoutMs) throw new Error(`Redis Cluster on ports ${ports.join(', ')} not ok within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Attempts at a cluster, each on fresh ports: a port found free can be taken before the node binds it. */
const START_ATTEMPTS = 3;

export async function startRedisCluster(): Promise<RunningRedisCluster> {
  const choosesBus = hasClusterPort();
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(choosesBus);
    } catch (error) {
      // A node that could not bind its port or its bus port exits at once: try again elsewhere.
      if (attempt >= START_ATTEMPTS || !/redis-server (exited with code|could not bind)/.test(String(error))) throw error;
    }
  }
}

/** Whether the redis-server has `--cluster-port` (Redis 7.0 and later). */
function hasClusterPort(): boolean {
  const version = /v=(\d+)\./.exec(spawnSync(ensureRedisServerBinary(), ['--version'], { encoding: 'utf8' }).stdout ?? '');
  return version !== null && Number(version[1]) >= 7;
}

/**
 * One attempt. Each node's port and, with `choosesBus`, its cluster bus port, all free and
 * distinct. The bus port is chosen too (`--cluster-port`, Redis 7.0+): by default it is the
 * node's port + 10,000, which nothing checked (an older Redis still uses that; a clash there is
 * retried on fresh ports).
 */
async function startOnce(choosesBus: boolean): Promise<RunningRedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'fg-cluster-'));
  const ports: number[] = [];
  while (ports.length < (choosesBus ? 6 : 3)) {
    const port = await freePort();
    if (!ports.includes(port)) ports.push(port);
  }
  const busPorts = ports.splice(3);
  const nodes: RunningRedis[] = [];
  try {
    for (const [i, port] of ports.entries()) {
      nodes.push(
        await startRedisServer({
          port,
          persistDir: dir,
          extraArgs: [
            '--cluster-enabled', 'yes',
            ...(choosesBus ? ['--cluster-port', String(busPorts[i])] : []),
            '--cluster-config-file', `nodes-${port}.conf`,
            // A dead primary is noticed within a second; the other slots keep serving.
            '--cluster-node-timeout', '1000',
            '--cluster-require-full-coverage', 'no',
          ],
        }),
      );
    }
    const create = spawn('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    create.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code: number | null = await new Promise((resolve) => create.on('exit', resolve));
    if (code !== 0) throw new Error(`redis-cli --cluster create failed (${code}): ${stderr.trim()}`);
    await waitForClusterOk(ports);
  } catch (error) {
    await Promise.all(nodes.map((node) => node.stop()));
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    urls: ports.map((port) => `redis://127.0.0.1:${port}`),
    nodes,
    async stop() {
      await Promise.all(nodes.map((node) => node.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
