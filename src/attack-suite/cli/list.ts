import { formatStandard } from '../format.js';
import { fixationAttacks } from '../run.js';
import type { CliCommand } from './commands.js';
import { UsageError } from './exit.js';

export const command: CliCommand = {
  usage: `Usage:
  fixation-guard list [--json]

Lists the attack catalogue in the order the suite runs it, with each attack's class (fixation or
hardening), severity and standards. Core attacks must run for a verdict.`,
  async run(argv, io) {
    const json = argv.includes('--json');
    const extra = argv.filter((a) => a !== '--json');
    if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
    if (json) io.out(JSON.stringify(fixationAttacks, null, 2));
    else io.out(fixationAttacks.map((a) => `${a.id}\n  ${a.title}\n  ${a.class} · ${a.severity}${a.core ? ' · core' : ''} · ${formatStandard(a)}`).join('\n'));
    return 0;
  },
};
