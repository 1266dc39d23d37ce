/**
 * The last step of the 2026-07-28 pipeline: hands a checked request to the SDK's handler,
 * inside its scope, so the server factory and the `requestState` hook see what it proved.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import { McpGuardError } from '../errors.js';
import { requestScopeOf, type RequestScope } from './state-binding.js';

export interface StatelessDispatch {
  /** The scope of the request the SDK is handling now (for the server factory). */
  current(): RequestScope | undefined;
  /** The dispatch middleware, once the SDK handler exists. */
  middleware(handle: (req: IncomingMessage, res: ServerResponse, body: unknown) => Promise<void>): RequestHandler;
}

/**
 * @example
 * const dispatch = createStatelessDispatch();
 * const handler = createMcpHandler(() => createServer(dispatch.current()!));
 * router.all('/mcp', dispatch.middleware(toNodeHandler(handler)));
 */
export function createStatelessDispatch(): StatelessDispatch {
  const context = new AsyncLocalStorage<RequestScope>();
  return {
    current: () => context.getStore(),
    middleware(handle) {
      return async function mcpStatelessDispatchMiddleware(req, res, next) {
        const scope = requestScopeOf(req);
        if (scope === undefined) return next(new McpGuardError('INTERNAL_ERROR', 'Request reached the MCP dispatch without a request scope'));
        try {
          await context.run(scope, () => handle(req, res, req.body));
        } catch (err) {
          next(err);
        }
      };
    },
  };
}
