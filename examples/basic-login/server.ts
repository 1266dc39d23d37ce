/**
 * The protected example: every fixation-guard default (changeSessionId rotation, tombstones,
 * tripwire, URL and cookie-tossing checks, 30 min idle / 4 h absolute timeouts).
 *
 *   npm run example:basic            # MemoryStore
 *   REDIS_URL=redis://127.0.0.1:6379 npm run example:basic
 */
import { serveLoginApp } from '../shared/serve.js';

await serveLoginApp('basic-login', { guard: { maxSessionsPerUser: 5 } });
