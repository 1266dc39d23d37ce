import type { Request, RequestHandler } from 'express';
import type { Auditor } from '../audit/index.js';
import { parseDuration, refuseRenamedDurations } from '../clock/index.js';
import { messageCount } from './batch.js';
import { McpGuardError, type McpRefusal } from './errors.js';
import { sendMcpError } from './http.js';
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
  /** Charges `points` (the request's JSON-RPC messages) to an IP. */
  consumeIp(ip: string, points?: number): Promise<RateLimitOutcome>;
  /** Charges `points` to a principal, across all of its sessions. */
  consumePrincipal(principal: string, points?: number): Promise<RateLimitOutcome>;
}

/** The rule's points and its window in whole seconds (rate-limiter-flexible's unit). */
function checkRule(rule: RateLimitRule, name: string, who: string): { points: number; duration: number } {
  const where = `${who}: \`rateLimit.${name}\``;
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
export function createMcpRateLimiter(options: McpRateLimitOptions = {}, who = 'createMcpSessionGuard'): McpRateLimiter {
  const prefix = options.keyPrefix ?? 'fg:mcp:rl';
  function build(rule: RateLimitRule | false | undefined, name: 'perIp' | 'perPrincipal'): RateLimiterAbstract | undefined {
    if (rule === false) return undefined;
    const effective = checkRule(rule ?? DEFAULT_RATE_LIMIT_RULE, name, who);
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

  async function consume(limiter: RateLimiterAbstract | undefined, key: string, points = 1): Promise<RateLimitOutcome> {
    if (!limiter) return { allowed: true };
    try {
      await limiter.consume(key, points);
      return { allowed: true };
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)) };
      throw rejection;
    }
  }
  return {
    consumeIp: (ip, points) => consume(perIp, ip, points),
    consumePrincipal: (principal, points) => consume(perPrincipal, principal, points),
  };
}

/** A 429 with `Retry-After`, as the rate limits answer. */
export function rateLimitedError(retryAfterSeconds: number): McpGuardError & { retryAfterSeconds: number } {
  return Object.assign(new McpGuardError('RATE_LIMITED', 'Too many requests; slow down.'), { retryAfterSeconds });
}

/**
 * Charges `points` (the request's JSON-RPC messages) to a principal, across all of its sessions
 * and both eras; audits and returns the 429 refusal when the principal is over its limit.
 *
 * @example
 * const refused = await chargePrincipal(limiter, auditor, principal, messageCount(req), { ip: req.ip });
 * if (refused) return sendMcpError(res, refused.error, refused.headers);
 */
export async function chargePrincipal(
  limiter: McpRateLimiter,
  auditor: Auditor,
  principal: string,
  points: number,
  fields: { ip?: string | undefined; sessionId?: string | undefined } = {},
): Promise<McpRefusal | undefined> {
  const outcome = await limiter.consumePrincipal(principal, points);
  if (outcome.allowed) return undefined;
  auditor.emit('rate_limit_exceeded', { ...fields, principal, reason: 'per_principal', detail: { retryAfterSeconds: outcome.retryAfterSeconds } });
  return { error: rateLimitedError(outcome.retryAfterSeconds), headers: { 'Retry-After': String(outcome.retryAfterSeconds) } };
}

/**
 * The per-IP limit, charged per JSON-RPC message (run it after `mcpBatchPolicy`). The IP is
 * Express's `req.ip`: behind a proxy set `trust proxy` to the number of proxies in front of
 * the app (a hop count). `trust proxy = true` believes every `X-Forwarded-For` entry, so a
 * client that sends its own header gets a fresh bucket per request: it is warned about once.
 *
 * @example
 * app.set('trust proxy', 1); // one load balancer in front
 * router.all('/mcp', mcpIpRateLimit({ limiter, auditor }));
 */
export function mcpIpRateLimit(options: { limiter: McpRateLimiter; auditor: Auditor }): RequestHandler {
  const { limiter, auditor } = options;
  let checkedTrustProxy = false;
  return async function mcpIpRateLimitMiddleware(req, res, next) {
    if (!checkedTrustProxy) {
      checkedTrustProxy = true;
      if (req.app?.get('trust proxy') === true) {
        const message =
          "fixation-guard/mcp: `trust proxy` is true: any client can choose its own IP with X-Forwarded-For and escape the per-IP rate limit; set it to the number of proxies in front of the app (app.set('trust proxy', 1))";
        process.emitWarning(message, { code: 'FIXATION_GUARD_INSECURE' });
        auditor.emit('insecure_configuration', { reason: 'trust_proxy_true' });
      }
    }
    try {
      const outcome = await limiter.consumeIp(req.ip ?? 'unknown', messageCount(req));
      if (outcome.allowed) return next();
      auditor.emit('rate_limit_exceeded', { ip: req.ip, reason: 'per_ip', detail: { retryAfterSeconds: outcome.retryAfterSeconds } });
      sendMcpError(res, rateLimitedError(outcome.retryAfterSeconds), { 'Retry-After': String(outcome.retryAfterSeconds) });
    } catch (err) {
      next(err);
    }
  };
}

/**
 * The per-principal limit as a middleware, for pipelines that know the principal before the
 * last step (the 2026-07-28 era: from the bearer token). Charged per JSON-RPC message.
 *
 * @example
 * router.all('/mcp', mcpPrincipalRateLimit({ limiter, auditor, principalOf: (req) => statelessIdentityOf(req)?.principal }));
 */
export function mcpPrincipalRateLimit(options: { limiter: McpRateLimiter; auditor: Auditor; principalOf: (req: Request) => string | undefined }): RequestHandler {
  const { limiter, auditor, principalOf } = options;
  return async function mcpPrincipalRateLimitMiddleware(req, res, next) {
    const principal = principalOf(req);
    if (principal === undefined) return next();
    try {
      const refused = await chargePrincipal(limiter, auditor, principal, messageCount(req), { ip: req.ip });
      if (!refused) return next();
      sendMcpError(res, refused.error, refused.headers);
    } catch (err) {
      next(err);
    }
  };
}
