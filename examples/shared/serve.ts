/**
 * Starts an example on 127.0.0.1:$PORT: MemoryStore by default, Redis when REDIS_URL is set, a
 * Redis Cluster (sessions spread over its shards) when REDIS_CLUSTER_URLS lists its nodes
 * (comma-separated; SESSION_SECRET required, it also keys the placement tags).
 */
import type { Store } from 'express-session';
import type { SessionIndex } from '../../src/index.js';
import { createLoginApp, type ExampleAppOptions } from './login-app.js';

export async function serveLoginApp(title: string, options: ExampleAppOptions = {}): Promise<void> {
  const port = Number(process.env.PORT ?? 3000);
  const host = '127.0.0.1';
  let store: Store | undefined;
  let index: SessionIndex | undefined;
  let close: (() => Promise<void>) | undefined;
  if (process.env.REDIS_CLUSTER_URLS) {
    const secret = process.env.SESSION_SECRET;
    if (!secret) throw new Error(`${title}: REDIS_CLUSTER_URLS needs SESSION_SECRET (the fleet shares it)`);
    const { createRedisClusterSessionStores } = await import('../../src/redis/index.js');
    const stores = createRedisClusterSessionStores({ rootUrls: process.env.REDIS_CLUSTER_URLS.split(','), tagSecret: secret, prefix: `fg-example-${title}:` });
    await stores.ready;
    store = stores.store;
    index = stores.index;
    close = stores.close;
  } else if (process.env.REDIS_URL) {
    const { createRedisSessionStores } = await import('../../src/redis/index.js');
    const stores = createRedisSessionStores({ url: process.env.REDIS_URL, prefix: `fg-example:{${title}}:` });
    await stores.ready;
    store = stores.store;
    index = stores.index;
    close = stores.close;
  }
  const { app } = createLoginApp({ ...options, testClock: options.testClock ?? process.env.TEST_CLOCK === '1', ...(store ? { store } : {}), ...(index ? { index } : {}) });
  const server = app.listen(port, host, (error?: Error) => {
    if (error) {
      // Express 5 hands listen errors (EADDRINUSE, …) to this callback instead of throwing.
      console.error(`${title} could not listen on http://${host}:${port}: ${error.message}`);
      process.exit(1);
    }
    const address = server.address();
    const actual = typeof address === 'object' && address ? address.port : port;
    console.log(`${title} listening on http://${host}:${actual} (${process.env.REDIS_CLUSTER_URLS ? 'Redis Cluster' : store ? 'Redis' : 'MemoryStore'})`);
  });
  const shutdown = () => {
    server.close(() => {
      void close?.().finally(() => process.exit(0));
      if (!close) process.exit(0);
    });
    server.closeAllConnections();
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}
