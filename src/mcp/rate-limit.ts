import { parseDuration, refuseRenamedDurations } from '../clock/index.js';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

export interface RateLimitRule {
  /** Requests allowed per window. */
  points: number;
  /** The window (`'1m'`, `'30s'` or milliseconds; whole seconds). rate-limiter-flexible's `duration` (seconds) is refused with a hint. */
  window: number | string;
}

export interface McpRateLimitOptions {
  /** Per client IP, on every request to the endpoint. `false` turns it off. The default value is `{ points: 300, window: '1m' }`. */
  perIp?: RateLimitRule | false;
  /** Per authenticated principal, across all its sessions. `false` turns it off. The default value is `{ points: 300, window: '1m' }`. */
  perPrincipal?: RateLimitRule | false;
  /**
   * A connected node-redis (v4+) client, so every instance of a fleet shares the counters.
   * When Redis fails, each instance falls back to its own in-memory counters rather than
   * letting everything through. The default value is `undefined` (memory only).
   */
  redis?: unknown;
  /** Prefix of the Redis keys. The default value is `'fg:mcp:rl'`. */
  keyPrefix?: string;
}

export const DEFAULT_RATE_LIMIT_RULE: Readonly<RateLimitRule> = Object.freeze({ points: 300, window: '1m' });

export type RateLimitOutcome = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export interface McpRateLimiter {
  consumeIp(ip: string): Promise<RateLimitOutcome>;
  consumePrincipal(principal: string): Promise<RateLimitOutcome>;
}

/** The rule's points and its window in whole seconds (rate-limiter-flexible's unit). */
function checkRule(rule: RateLimitRule, name: string): { points: number; duration: number } {
  const where = `createMcpSessionGuard: \`rateLimit.${name}\``;
  if (typeof rule === 'object' && rule !== null) refuseRenamedDurations(rule, where, { duration: { to: 'window', unit: 'seconds' } });
  if (typeof rule !== 'object' || rule === null || !Number.isInteger(rule.points) || rule.points < 1 || rule.window === undefined) {
    throw new TypeError(`${where} must be { points, window } with whole points ≥ 1 and a window like '1m'; got ${JSON.stringify(rule)}`);
  }
  const ms = parseDuration(rule.window, `${where}.window`);
  if (ms % 1000 !== 0) throw new RangeError(`${where}.window must be whole seconds; got ${JSON.stringify(rule.window)}`);
  return { points: rule.points, duration: ms / 1000 };
}

/**
 * Builds the per-IP and per-principal limiters (rate-limiter-flexible; Redis through the
 * `redis` package with `useRedisPackage`).
 *
 * @example
 * const limiter = createMcpRateLimiter({ perIp: { points: 100, window: '1m' }, redis: redisClient });
 */
export function createMcpRateLimiter(options: McpRateLimitOptions = {}): McpRateLimiter {
  const prefix = options.keyPrefix ?? 'fg:mcp:rl';
  function build(rule: RateLimitRule | false | undefined, name: 'perIp' | 'perPrincipal'): RateLimiterAbstract | undefined {
    if (rule === false) return undefined;
    const effective = checkRule(rule ?? DEFAULT_RATE_LIMIT_RULE, name);
    const memory = new RateLimiterMemory({ keyPrefix: `${prefix}:${name}`, points: effective.points, duration: effective.duration });
    if (options.redis === undefined) return memory;
    return new RateLimiterRedis({
      storeClient: options.redis,
      useRedisPackage: true,
      keyPrefix: `${prefix}:${name}`,
      points: effective.points,
      duration: effective.duration,
      insuranceLimiter: memory,
    });
  }
  const perIp = build(options.perIp, 'perIp');
  const perPrincipal = build(options.perPrincipal, 'perPrincipal');

  async function consume(limiter: RateLimiterAbstract | undefined, key: string): Promise<RateLimitOutcome> {
    if (!limiter) return { allowed: true };
    try {
      await limiter.consume(key);
      return { allowed: true };
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)) };
      throw rejection;
    }
  }
  return {
    consumeIp: (ip) => consume(perIp, ip),
    consumePrincipal: (principal) => consume(perPrincipal, principal),
  };
}
