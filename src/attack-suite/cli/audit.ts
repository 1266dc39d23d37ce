import { parseArgs } from 'node:util';
import { verifyAuditFile } from '../../audit/chain.js';
import type { CliCommand } from './commands.js';
import { EXIT, UsageError } from './exit.js';

export const command: CliCommand = {
  usage: `Usage:
  fixation-guard audit verify FILE [--key-env NAME] [--json]

Checks the chain of a JSONL audit trail written by jsonlSink: every line must carry, in \`prev\`,
the link of the line before it. Names each line where a removal, an edit or a reordering broke
the chain, and prints the chain's head (record it elsewhere: a chain cannot show by itself that
its last lines were cut off).

  --key-env NAME   read the sink's chainKey from the environment variable NAME (a key is
                   never taken on the command line, where other users of the machine see it)
  --json           print the report as one JSON document

Exit status: 0 the chain holds, 1 it is broken, 2 bad usage or an unreadable file.`,
  async run(argv, io) {
    const { positionals, values } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: { 'key-env': { type: 'string' }, json: { type: 'boolean' } },
    });
    const [action, file, ...rest] = positionals;
    if (action !== 'verify') throw new UsageError(action === undefined ? 'missing the action: audit verify FILE' : `unknown action ${JSON.stringify(action)}: audit verify FILE`);
    if (file === undefined) throw new UsageError('missing FILE: audit verify FILE');
    if (rest.length > 0) throw new UsageError(`unexpected arguments: ${rest.join(' ')}`);
    let key: string | undefined;
    if (values['key-env'] !== undefined) {
      key = io.env[values['key-env']];
      if (!key) throw new UsageError(`--key-env ${values['key-env']}: that environment variable is not set`);
    }
    let report;
    try {
      report = verifyAuditFile(file, key === undefined ? {} : { key });
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? 'unreadable';
      if (values.json) io.out(JSON.stringify({ error: { kind: 'setup', message: `cannot read ${file} (${reason})` }, exitCode: EXIT.setup }));
      else io.err(`fixation-guard audit: cannot read ${file} (${reason})`);
      return EXIT.setup;
    }
    if (values.json) {
      io.out(JSON.stringify({ file, ...report }, null, 2));
    } else {
      for (const problem of report.problems) io.out(`${file}:${problem.line}: ${problem.message}`);
      io.out(report.ok ? `${file}: the chain holds over ${report.lines} lines; head ${report.head}` : `${file}: the chain is broken in ${report.problems.length} place(s) over ${report.lines} lines; head ${report.head}`);
    }
    return report.ok ? EXIT.pass : EXIT.findings;
  },
};
