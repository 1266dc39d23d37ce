/**
 * A small TCP proxy for fault injection between an app and Redis: it forwards bytes both ways
 * and, on command, delays them (a latency spike), drops them (a network partition: the bytes
 * are lost, and the connections that lost some are reset when the network heals, since their
 * byte streams cannot continue), loses the replies of chosen commands (the command reaches
 * the server and runs; what it answers, and everything after on that connection, is lost until
 * the network heals), or resets every open connection.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

interface Pair {
  client: Socket;
  upstream: Socket;
  /** Lost bytes while dropping: reset on heal. */
  tainted: boolean;
  /** Sent a command whose reply is to be lost: every byte back is dropped until heal. */
  deaf: boolean;
}

export class TcpProxy {
  readonly port: number;
  readonly #server: Server;
  readonly #pairs = new Set<Pair>();
  #delayMs = 0;
  #dropping = false;
  #loseRepliesTo: Buffer[] = [];
  #thenDrop = false;

  private constructor(server: Server, port: number) {
    this.#server = server;
    this.port = port;
  }

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    const proxy = new TcpProxy(server, typeof address === 'object' && address ? address.port : 0);
    server.on('connection', (client) => proxy.accept(client, targetHost, targetPort));
    return proxy;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Open connections. */
  get connections(): number {
    return this.#pairs.size;
  }

  accept(client: Socket, host: string, port: number): void {
    const upstream = connect({ host, port });
    const pair: Pair = { client, upstream, tainted: false, deaf: false };
    this.#pairs.add(pair);
    this.#pipe(pair, client, upstream, 'up');
    this.#pipe(pair, upstream, client, 'down');
    const end = () => {
      this.#pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  }

  #pipe(pair: Pair, from: Socket, to: Socket, direction: 'up' | 'down'): void {
    // Chunks keep their order whatever the delay does meanwhile.
    let lastDue = 0;
    from.on('data', (chunk: Buffer) => {
      const dropping = this.#dropping;
      if (direction === 'up' && this.#loseRepliesTo.some((needle) => chunk.includes(needle))) {
        pair.deaf = pair.tainted = true;
        // This command still goes through; everything after it is lost.
        if (this.#thenDrop) this.#dropping = true;
      }
      if (dropping || (direction === 'down' && pair.deaf)) {
        pair.tainted = true;
        return;
      }
      const due = Math.max(Date.now() + this.#delayMs, lastDue);
      lastDue = due;
      const wait = due - Date.now();
      if (wait <= 0 && this.#delayMs === 0) to.write(chunk);
      else setTimeout(() => !to.destroyed && to.write(chunk), wait);
    });
  }

  /** Every byte waits `ms` more (0: back to normal). */
  delay(ms: number): void {
    this.#delayMs = ms;
  }

  /** Every byte is lost until `heal()`. */
  drop(): void {
    this.#dropping = true;
  }

  /**
   * From now on, a connection that sends a command containing one of `needles` (a script's
   * SHA1, a key) gets nothing back any more — the command runs, its reply is lost — until
   * `heal()`. With `thenDrop`, the network then drops everything (as `drop()`): the command
   * ran, and nothing sent after it arrives.
   */
  loseRepliesTo(needles: readonly string[], options: { thenDrop?: boolean } = {}): void {
    this.#loseRepliesTo = needles.map((needle) => Buffer.from(needle));
    this.#thenDrop = options.thenDrop ?? false;
  }

  /** Ends a `drop()` or `loseRepliesTo()`: the connections that lost bytes are reset, the others carry on. */
  heal(): void {
    this.#dropping = false;
    this.#loseRepliesTo = [];
    for (const pair of this.#pairs) if (pair.tainted) this.#reset(pair);
  }

  /** Resets every open connection (the app sees ECONNRESET). */
  reset(): void {
    for (const pair of this.#pairs) this.#reset(pair);
  }

  #reset(pair: Pair): void {
    this.#pairs.delete(pair);
    pair.client.resetAndDestroy();
    pair.upstream.resetAndDestroy();
  }

  async close(): Promise<void> {
    this.reset();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
