/** Forks benchmarks/server.ts for one variant and talks to it over IPC. */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pin } from './pinning.js';
import type { CpuSample, RunnerMessage, ServerMessage, ServerVariant } from './protocol.js';

const SERVER = fileURLToPath(new URL('../server.ts', import.meta.url));
const READY_TIMEOUT_MS = 30_000;

export interface ServerProcessOptions {
  /** Directory for a `--cpu-prof` profile of this server (written when it exits). */
  cpuProfDir?: string;
  /** Shared cookie secret, so the runner could sign ids (unused by default). */
  secret?: string;
  /** Pin the server (every thread) to these cores once it is ready. */
  cores?: readonly number[] | undefined;
}

export class ServerProcess {
  readonly variant: ServerVariant;
  readonly child: ChildProcess;
  port = 0;
  #waiters: Array<{ type: ServerMessage['type']; resolve: (m: ServerMessage) => void }> = [];

  private constructor(variant: ServerVariant, child: ChildProcess) {
    this.variant = variant;
    this.child = child;
    child.on('message', (message: ServerMessage) => {
      const i = this.#waiters.findIndex((w) => w.type === message.type);
      if (i === -1) return;
      const [waiter] = this.#waiters.splice(i, 1);
      waiter?.resolve(message);
    });
  }

  static async start(variant: ServerVariant, options: ServerProcessOptions = {}): Promise<ServerProcess> {
    const execArgv = ['--import', 'tsx', '--no-warnings', ...(variant.nodeFlags ?? [])];
    if (options.cpuProfDir) execArgv.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`);
    const child = fork(SERVER, [], {
      execArgv,
      env: {
        ...process.env,
        NODE_ENV: 'development',
        BENCH_VARIANT: JSON.stringify(variant),
        ...(options.secret ? { BENCH_SECRET: options.secret } : {}),
      },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const server = new ServerProcess(variant, child);
    const exited = new Promise<never>((_, reject) => {
      child.once('exit', (code) => reject(new Error(`bench server ${JSON.stringify(variant)} exited with code ${code}`)));
    });
    exited.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('bench server did not become ready')), READY_TIMEOUT_MS);
    });
    try {
      const ready = (await Promise.race([server.#next('ready'), exited, timeout])) as Extract<ServerMessage, { type: 'ready' }>;
      server.port = ready.port;
      if (options.cores && child.pid !== undefined) {
        try {
          pin(child.pid, options.cores);
        } catch (err) {
          child.kill('SIGKILL');
          throw err;
        }
      }
    } finally {
      clearTimeout(timer);
    }
    return server;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  #next(type: ServerMessage['type']): Promise<ServerMessage> {
    return new Promise((resolve) => this.#waiters.push({ type, resolve }));
  }

  #send(message: RunnerMessage): void {
    this.child.send(message);
  }

  async startMeasuring(): Promise<void> {
    const started = this.#next('started');
    this.#send({ type: 'start' });
    await started;
  }

  async stopMeasuring(): Promise<CpuSample> {
    const stopped = this.#next('stopped');
    this.#send({ type: 'stop' });
    return ((await stopped) as Extract<ServerMessage, { type: 'stopped' }>).sample;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.#send({ type: 'exit' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}
