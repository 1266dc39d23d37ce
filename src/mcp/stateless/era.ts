/**
 * Era routing: 2025-era traffic (`isLegacyRequest`: an `initialize`, or a request without the
 * 2026-07-28 envelope) goes to the sessionful handler, or is refused; the rest goes on.
 */
import type { RequestHandler } from 'express';
import { isLegacyRequest } from '@modelcontextprotocol/server';
import { toWebRequest } from '@modelcontextprotocol/node';

/**
 * @example
 * router.all('/mcp', mcpEraRouting({ legacy: createMcpSessionGuard({…}).router }));
 */
export function mcpEraRouting(options: { legacy: RequestHandler | 'reject' }): RequestHandler {
  const { legacy } = options;
  return async function mcpEraRoutingMiddleware(req, res, next) {
    try {
      if (legacy !== 'reject' && (await isLegacyRequest(await toWebRequest(req, req.body), req.body))) return legacy(req, res, next);
      next();
    } catch (err) {
      next(err);
    }
  };
}
