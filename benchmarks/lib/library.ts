/**
 * The library as users run it: the built package in dist/ (ESM), not the TypeScript sources
 * through tsx, so that no variant pays for a transpiler. The types still come from src/, so
 * `tsc --noEmit` checks the benchmarks without a build. `npm run bench` builds first.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type * as CoreModule from '../../src/index.js';
import type * as McpModule from '../../src/mcp/index.js';
import type * as RedisModule from '../../src/redis/index.js';

type Core = typeof CoreModule;
type Redis = typeof RedisModule;

const DIST = new URL('../../dist/', import.meta.url);

async function load<T>(entry: string): Promise<T> {
  const url = new URL(entry, DIST);
  if (!existsSync(fileURLToPath(url))) {
    throw new Error(`benchmarks: ${fileURLToPath(url)} is missing; run \`npm run build\` (npm run bench builds before it measures)`);
  }
  return (await import(url.href)) as T;
}

export const core = await load<Core>('index.js');
export const redisStores = await load<Redis>('redis/index.js');

/** The MCP adapter, loaded only by the scenarios that measure it (it brings the MCP SDK along). */
export async function loadMcp(): Promise<typeof McpModule> {
  return await load<typeof McpModule>('mcp/index.js');
}
