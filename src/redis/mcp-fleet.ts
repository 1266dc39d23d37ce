import { isTombstone, makeTombstone } from '../store/contracts.js';
import type { McpFleet, McpFleetEvent, McpFleetSignals } from '../mcp/fleet.js';
import { RedisSessionIndex } from './session-index.js';
import { withDeadline } from './errors.js';
import { DEFAULT_PREFIX, KeyLayout, validatePrefix } from './keys.js';
import { DEFAULT_OPERATION_TIMEOUT_MS, checkClient, checkOptionsObject, durationMs } from './options.js';
import { LuaScript, type RedisScriptingClient } from './scripts.js';

const WHO = 'createRedisMcpFleet';

/** KEYS: session. ARGV: live record JSON, ttl ms. Never writes over a tombstone (or anything else). */
const MARK_LIVE = new LuaScript('mcpMarkLive', `return redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) and 1 or 0`);
/** KEYS: session. ARGV: tombstone JSON, ttl ms, channel, message. Tombstones, then tells the others. */
const END = new LuaScript(
  'mcpEnd',
  `redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1`,
);
/** KEYS: epoch. ARGV: at, channel, message. The switch only moves forward. */
const END_ALL_BEFORE = new LuaScript(
  'mcpEndAllBefore',
  `local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1]) end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1`,
);
/** KEYS: session, epoch. */
const READ_STATE = new LuaScript('mcpReadState', `return { redis.call('GET', KEYS[1]) or '', redis.call('GET', KEYS[2]) or '' }`);

interface SubscribingClient {
  duplicate(): SubscribingClient;
  connect(): Promise<unknown>;
  on(event: 'error' | 'ready', listener: (err: unknown) => void): unknown;
  readonly isReady?: boolean;
  destroy?(): unknown;
  disconnect?(): Promise<unknown>;
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  quit?(): Promise<unknown>;
  close?(): Promise<unknown>;
}

export interface RedisMcpFleetOptions {
  /** A connected node-redis client (`createClient()`); a duplicate of it subscribes to revocations. */
  client: unknown;
  /** The deployment's prefix, with a hash tag; the same as the core's store and index. The default value is `'fg:{fg}:'`. */
  prefix?: string;
  /** The default value is `'2s'`. */
  operationTimeout?: number | string;
}

/**
 * The shared parts of an MCP fleet on one Redis: `maxSessionsPerUser` through the core's
 * `RedisSessionIndex` (one script per admission, so two instances cannot both slip under the
 * limit), and signals for revocation and the emergency switch — a tombstone under the
 * session's key (what every instance checks on every request, fail closed) plus a pub/sub
 * message (so open streams on other instances are cut at once).
 *
 * @example
 * import { createRedisMcpFleet } from 'fixation-guard/redis';
 * const guard = createMcpSessionGuard({ sessionSecret, createServer, fleet: createRedisMcpFleet({ client }) });
 */
export function createRedisMcpFleet(options: RedisMcpFleetOptions): McpFleet {
  checkOptionsObject(options, WHO, 'an options object with a `client`');
  const scripting: RedisScriptingClient = checkClient(options.client, WHO);
  const prefix = validatePrefix(options.prefix ?? DEFAULT_PREFIX, WHO);
  const keys = new KeyLayout(prefix);
  const timeout = durationMs(options.operationTimeout, DEFAULT_OPERATION_TIMEOUT_MS, WHO, 'operationTimeout');
  const epochKey = `${prefix}mcp:epoch`;
  const channel = `${prefix}mcp:events`;
  const index = new RedisSessionIndex({ client: options.client, prefix, operationTimeout: timeout });
  const deadline = <T>(operation: string, run: Promise<T>) => withDeadline(WHO, operation, timeout, run);

  const signals: McpFleetSignals = {
    async markLive(sessionId, ttlMs) {
      await deadline('markLive', MARK_LIVE.run(scripting, [keys.session(sessionId)], [JSON.stringify({ mcp: { live: true } }), String(Math.max(1, Math.ceil(ttlMs)))]));
    },
    async end(sessionId, ttlMs) {
      const ttl = Math.max(1, Math.ceil(ttlMs));
      const message = JSON.stringify({ type: 'ended', sessionId } satisfies McpFleetEvent);
      await deadline('end', END.run(scripting, [keys.session(sessionId)], [JSON.stringify(makeTombstone('revoked', Date.now(), ttl)), String(ttl), channel, message]));
    },
    async endAllBefore(at) {
      const message = JSON.stringify({ type: 'emergency', at } satisfies McpFleetEvent);
      await deadline('endAllBefore', END_ALL_BEFORE.run(scripting, [epochKey], [String(Math.floor(at)), channel, message]));
    },
    async isEnded(sessionId, createdAt) {
      const [record, epoch] = ((await deadline('isEnded', READ_STATE.run(scripting, [keys.session(sessionId), epochKey], []))) as unknown[]).map(String);
      if (epoch !== '' && Number(epoch) >= createdAt) return true;
      if (record === '' || record === undefined) return false;
      try {
        return isTombstone(JSON.parse(record));
      } catch {
        return true; // not ours to read: fail closed
      }
    },
    async subscribe(listener) {
      const subscriber = (options.client as SubscribingClient).duplicate();
      // A client without an 'error' listener throws its connection errors at the process. This
      // one reconnects and subscribes again by itself; messages sent meanwhile are lost (every
      // instance still checks the tombstones on every request), so the outage is reported once.
      let reported = false;
      subscriber.on('error', function fleetSubscriberError(err: unknown) {
        if (reported) return;
        reported = true;
        process.emitWarning(`fixation-guard/redis: the MCP fleet's subscription lost its connection (${(err as Error)?.message ?? String(err)}); it reconnects by itself, and messages sent meanwhile do not reach this instance's open streams`);
      });
      subscriber.on('ready', function fleetSubscriberReady() {
        reported = false;
      });
      // Commands wait while the client reconnects (and a first connect to a Redis that is down
      // keeps retrying): a subscriber that is down is dropped, not waited for.
      const drop = async () => {
        if (subscriber.destroy) subscriber.destroy();
        else await subscriber.disconnect?.().catch(() => undefined);
      };
      try {
        await deadline('subscribe', (async () => {
          await subscriber.connect();
          await subscriber.subscribe(channel, function onFleetMessage(message) {
            let event: McpFleetEvent;
            try {
              event = JSON.parse(message) as McpFleetEvent;
            } catch {
              return;
            }
            if ((event.type === 'ended' && typeof event.sessionId === 'string') || (event.type === 'emergency' && typeof event.at === 'number')) listener(event);
          });
        })());
      } catch (err) {
        await drop();
        throw err;
      }
      return async function unsubscribe() {
        if (subscriber.isReady === false) return drop();
        try {
          await deadline('unsubscribe', (async () => {
            await subscriber.unsubscribe(channel);
            await (subscriber.close?.() ?? subscriber.quit?.());
          })());
        } catch {
          await drop();
        }
      };
    },
  };
  return { index, signals };
}
