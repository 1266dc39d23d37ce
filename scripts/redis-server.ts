/**
 * Starts a throw-away `redis-server` (Debian's package) on a free loopback port, for the test
 * suite and the benchmarks. Persistence is off, so nothing is written to disk. When the binary
 * is missing and this process may use apt-get (root on Debian), it installs `redis-server`
 * first: a fresh machine needs no manual step.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, connect } from 'node:net';

const CANDIDATES = ['/usr/bin/redis-server', '/usr/local/bin/redis-server', '/usr/sbin/redis-server'];
const READY_TIMEOUT_MS = 15_000;

function findBinary(): string | undefined {
  const fromPath = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const found = fromPath.stdout.trim();
  if (fromPath.status === 0 && found) return found;
  return CANDIDATES.find((candidate) => existsSync(candidate));
}

/** Returns the path of `redis-server`, installing Debian's package when it is missing. */
export function ensureRedisServerBinary(): string {
  const existing = findBinary();
  if (existing) return existing;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasApt = spawnSync('sh', ['-c', 'command -v apt-get'], { encoding: 'utf8' }).status === 0;
  if (!isRoot || !hasApt) {
    throw new Error(
      'redis-server is not installed and cannot be installed automatically here ' +
        '(needs root and apt-get). Install it (`apt-get install redis-server`) or set REDIS_URL ' +
        'to an existing Redis.',
    );
  }
  process.stderr.write('redis-server is missing: installing Debian package redis-server…\n');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', '--no-install-recommends', 'redis-server']]) {
    const result = spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env });
    if (result.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed with exit code ${result.status}`);
  }
  // The package's own service may have been started by the install; it is not ours to use.
  const binary = findBinary();
  if (!binary) throw new Error('redis-server still missing after apt-get install redis-server');
  return binary;
}

/** Asks the kernel for a free loopback port. */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Whether a Redis answers PING on the loopback port. */
export function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let answer = '';
    socket.setTimeout(500);
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      answer += chunk.toString();
      if (answer.includes('\r\n')) {
        socket.destroy();
        resolve(answer.startsWith('+PONG'));
      }
    });
    socket.on('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', () => resolve(false));
  });
}

export interface RunningRedis {
  readonly url: string;
  readonly port: number;
  /** The running server's process id (undefined while stopped). */
  readonly pid: number | undefined;
  /** Stops the server and waits for the process to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port (after `stop`), for outage tests. */
  restart(): Promise<void>;
}

export interface StartRedisOptions {
  port?: number;
  /**
   * A directory for an append-only file fsynced before every reply: a server killed and
   * restarted keeps every write it acknowledged (fault-injection tests). Default: no persistence.
   */
  persistDir?: string;
  /** More `redis-server` arguments (e.g. cluster mode). */
  extraArgs?: string[];
}

/** Starts a private redis-server on a free (or the given) loopback port. */
export async function startRedisServer(options: StartRedisOptions = {}): Promise<RunningRedis> {
  const binary = ensureRedisServerBinary();
  const port = options.port ?? (await freePort());
  let child: ChildProcess | undefined;

  async function start(): Promise<void> {
    const persistence = options.persistDir
      ? ['--dir', options.persistDir, '--appendonly', 'yes', '--appendfsync', 'always', '--appendfilename', `appendonly-${port}.aof`, '--appenddirname', `aof-${port}`]
      : ['--appendonly', 'no'];
    child = spawn(
      binary,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--protected-mode', 'yes', '--loglevel', 'warning', ...(options.extraArgs ?? [])],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const started = Date.now();
    while (Date.now() - started < READY_TIMEOUT_MS) {
      if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode} on port ${port}`);
      if (await ping(port)) {
        // Another process may have taken the port while ours was down (a restart): the PONG
        // would be theirs, and our server exits on the failed bind.
        await new Promise((r) => setTimeout(r, 100));
        if (child.exitCode !== null) throw new Error(`redis-server could not bind port ${port} (exit code ${child.exitCode}); another process holds it`);
        return;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    child.kill('SIGKILL');
    throw new Error(`redis-server did not answer PING on port ${port} within ${READY_TIMEOUT_MS} ms`);
  }

  async function stop(): Promise<void> {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      running.once('exit', () => resolve());
      running.kill('SIGKILL');
    });
  }

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid() {
      return child?.pid;
    },
    stop,
    restart: start,
  };
}
