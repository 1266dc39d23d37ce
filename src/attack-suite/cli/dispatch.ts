import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMMANDS, type CommandEntry } from './commands.js';
import { errorDocument, EXIT, UsageError } from './exit.js';
import { processIO, type CliIO } from './io.js';

function topUsage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage:
  fixation-guard <command> [options]
  fixation-guard <command> --help
  fixation-guard --version

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Exit status: 0 pass, 1 findings at or above --fail-on, 2 setup error (bad usage, unreachable
target, an app that cannot be attacked as described), 3 inconclusive.`;
}

/** The package's version, read from the package.json above this file (sources or dist). */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'fixation-guard' && pkg.version) return pkg.version;
    }
    dir = dirname(dir);
  }
  return 'unknown';
}

/** Runs the command line and returns the exit status; never throws. */
export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  const [name, ...rest] = argv;
  const json = rest.includes('--json');
  if (name === '--version' || name === '-v') {
    io.out(packageVersion());
    return EXIT.pass;
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.err : io.out)(topUsage());
    return name === undefined ? EXIT.setup : EXIT.pass;
  }
  const entry: CommandEntry | undefined = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    const message = `unknown command ${JSON.stringify(name)}; commands: ${COMMANDS.map((c) => c.name).join(', ')}`;
    if (json) io.out(JSON.stringify(errorDocument('usage', message), null, 2));
    io.err(`fixation-guard: ${message}\n\n${topUsage()}`);
    return EXIT.setup;
  }
  const command = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(command.usage);
    return EXIT.pass;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    const usage = err instanceof UsageError;
    const message = usage ? err.message : ((err as Error).stack ?? String(err));
    if (json) io.out(JSON.stringify(errorDocument(usage ? 'usage' : 'internal', usage ? message : String((err as Error).message ?? err)), null, 2));
    io.err(`fixation-guard: ${message}${usage ? `\n\n${command.usage}` : ''}`);
    return EXIT.setup;
  }
}
