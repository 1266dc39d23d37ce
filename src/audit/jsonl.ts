import { createRequire } from 'node:module';
import type * as PinoModule from 'pino';
import type { Logger } from 'pino';
import type { AuditSink } from './auditor.js';
import { chainKeyOf, chainLink, lastLineOf } from './chain.js';

export interface JsonlSinkOptions {
  /**
   * Write each line before returning (the default). `false` buffers through pino's async
   * destination for throughput; call `flush()` before exit.
   */
  sync?: boolean;
  /** Create the log file's folder when missing. The default value is `true`. */
  mkdir?: boolean;
  /**
   * Key for the chain's links (HMAC-SHA256). Each line carries in `prev` the link of the line
   * before it, so `fixation-guard audit verify FILE` finds a line removed, edited or moved.
   * Without a key the links are plain SHA-256: they show a careless edit, not a careful one.
   * Keep the key away from whoever can write the file.
   */
  chainKey?: string | Buffer;
}

type Pino = typeof PinoModule;
let loaded: Pino | undefined;

/** pino is loaded on first use: `import 'fixation-guard'` stays light for apps that never write JSONL. */
function pinoModule(): Pino {
  return (loaded ??= createRequire(import.meta.url)('pino') as Pino);
}

/**
 * A sink that appends one JSON object per line to a file through pino's destination, each
 * line linked to the one before it (see `chainKey`).
 *
 * @example
 * const audit = jsonlSink('/var/log/app/session-audit.jsonl');
 * app.use(sessionGuard({ secret, audit: [audit] }));
 */
export function jsonlSink(path: string, options: JsonlSinkOptions = {}): AuditSink & { flush(): void; logger: Logger } {
  if (typeof path !== 'string' || path.length === 0) {
    throw new TypeError(`jsonlSink: \`path\` must be a non-empty string; got ${JSON.stringify(path)}`);
  }
  const { pino } = pinoModule();
  const destination = pino.destination({ dest: path, sync: options.sync ?? true, mkdir: options.mkdir ?? true });
  const logger = pino(
    {
      base: null,
      timestamp: false,
      messageKey: 'message',
      formatters: { level: (label: string) => ({ level: label }) },
    },
    destination,
  );
  const key = chainKeyOf(options.chainKey);
  // The chain goes on from the file's last line, so a restart does not look like a removal.
  let previous = lastLineOf(path);
  const sink = Object.assign(
    function jsonlAuditSink(event: Parameters<AuditSink>[0]) {
      const line = JSON.stringify({ level: event.severity, ...event, prev: chainLink(previous, key) });
      previous = line;
      destination.write(`${line}\n`);
    },
    { flush: () => destination.flushSync(), logger },
  );
  return sink;
}
