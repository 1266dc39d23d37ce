import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { toSarif } from '../ci.js';
import { packageVersion } from '../cli/dispatch.js';
import type { CliCommand } from '../cli/commands.js';
import { errorDocument, EXIT, UsageError } from '../cli/exit.js';
import { durationFlag, failOnFlag, idList, RUN_FLAGS } from '../cli/flags.js';
import { TargetUnreachableError } from '../http.js';
import { exitCodeOf } from '../verdict.js';
import { McpAttackSetupError } from './context.js';
import { formatMcpReport } from './format.js';
import { runMcpAttacks } from './run.js';
import type { McpAttackId, McpAttackOptions, McpIdentity } from './types.js';
import { USER_AGENT } from './wire.js';

const USAGE = `Usage:
  fixation-guard attack-mcp <url> --victim-bearer <token> --attacker-bearer <token> [options]
  fixation-guard attack-mcp <url> --session-login <path> --victim <user:password> --attacker <user:password> [options]

Attacks a running MCP server (Streamable HTTP, both protocol eras) as two users: can the
attacker reach the victim's session, state or data?

Identities (bearer tokens can also come from MCP_VICTIM_BEARER / MCP_ATTACKER_BEARER):
  --victim-bearer <token>     the victim's bearer token
  --attacker-bearer <token>   the attacker's bearer token
  --session-login <path>      a route that authenticates a 2025 session: POST JSON {"username","password"}
                              with the Mcp-Session-Id header; answers JSON {"token"}
  --victim <user:password>    the victim's login for --session-login
  --attacker <user:password>  the attacker's login for --session-login
  --session-token-header <h>  where the login's token goes (default x-session-token)

Options:
  --identity-tool <name>      a tool that names the caller (default: a listed whoami-like tool)
  --state-tool <name>         a tool that answers input_required with a requestState (2026-07-28)
  --state-args <json>         its arguments (default {})
  --max-sessions <n>          the server's most sessions per user (session-limit)
  --rate-limit <n>            the most tool calls per caller per window (batch-rate-limit)
  --samples <n>               fresh session ids sampled by session-id-entropy (default 32)
  --timeout <duration>        per-request timeout (ms, or 10s; default 10s)
  --only <id,id,…>            run only these attacks
  --skip <id,id,…>            leave these attacks out
  --fail-on <class>           fixation (default), hardening or all: which findings exit 1
  --json                      print the report as JSON
  --sarif <file>              also write SARIF 2.1.0 (one result per attack that succeeded)
  --no-color                  no ANSI colours (also NO_COLOR=1)
  -h, --help                  this help

Exit status: 0 pass, 1 findings at or above --fail-on, 2 setup error, 3 inconclusive.`;

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'victim-bearer': { type: 'string' },
        'attacker-bearer': { type: 'string' },
        'session-login': { type: 'string' },
        victim: { type: 'string' },
        attacker: { type: 'string' },
        'session-token-header': { type: 'string' },
        'identity-tool': { type: 'string' },
        'state-tool': { type: 'string' },
        'state-args': { type: 'string' },
        'max-sessions': { type: 'string' },
        'rate-limit': { type: 'string' },
        ...RUN_FLAGS,
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

type Values = ReturnType<typeof parse>['values'];

function whole(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} must be a positive whole number; got ${JSON.stringify(value)}`);
  return n;
}

/** The login hook behind --session-login: the route answers the token for the session it authorized. */
function sessionLogin(url: string, path: string, credentials: string, flag: string, header: string): McpIdentity['login'] {
  const at = credentials.indexOf(':');
  if (at <= 0) throw new UsageError(`${flag} must be user:password; got a value without a colon`);
  const username = credentials.slice(0, at);
  const password = credentials.slice(at + 1);
  const target = new URL(path, url);
  return async function login({ sessionId }) {
    const res = await fetch(target, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'mcp-session-id': sessionId, 'user-agent': USER_AGENT },
      body: JSON.stringify({ username, password }),
    });
    const body = (await res.json().catch(() => ({}))) as { token?: unknown };
    if (!res.ok || typeof body.token !== 'string') throw new McpAttackSetupError(`attack-mcp: ${target.pathname} answered ${res.status} without a token for ${username}`);
    return { [header]: body.token };
  };
}

function identity(values: Values, role: 'victim' | 'attacker', url: string, env: NodeJS.ProcessEnv): McpIdentity {
  const bearer = values[`${role}-bearer`] ?? env[role === 'victim' ? 'MCP_VICTIM_BEARER' : 'MCP_ATTACKER_BEARER'];
  const login = values[role];
  const out: McpIdentity = {};
  if (bearer) out.bearer = bearer;
  if (login !== undefined) {
    const path = values['session-login'];
    if (!path?.startsWith('/')) throw new UsageError(`--${role} needs --session-login <path> (a path starting with /)`);
    out.login = sessionLogin(url, path, login, `--${role}`, (values['session-token-header'] ?? 'x-session-token').toLowerCase());
  }
  if (!out.bearer && !out.login) throw new UsageError(`give the ${role}'s identity: --${role}-bearer <token>, or --session-login <path> with --${role} <user:password>`);
  return out;
}

function optionsFrom(values: Values, url: string, env: NodeJS.ProcessEnv): McpAttackOptions {
  const options: McpAttackOptions = { victim: identity(values, 'victim', url, env), attacker: identity(values, 'attacker', url, env) };
  const set = <K extends keyof McpAttackOptions>(key: K, value: McpAttackOptions[K] | undefined) => {
    if (value !== undefined) options[key] = value;
  };
  set('identityTool', values['identity-tool']);
  if (values['state-tool'] !== undefined) {
    let args: Record<string, unknown> = {};
    if (values['state-args'] !== undefined) {
      try {
        args = JSON.parse(values['state-args']) as Record<string, unknown>;
      } catch {
        throw new UsageError(`--state-args must be a JSON object; got ${values['state-args']}`);
      }
    }
    options.stateTool = { name: values['state-tool'], arguments: args };
  } else if (values['state-args'] !== undefined) {
    throw new UsageError('--state-args needs --state-tool');
  }
  set('maxSessionsPerUser', whole(values['max-sessions'], '--max-sessions'));
  set('rateLimit', whole(values['rate-limit'], '--rate-limit'));
  set('entropySamples', whole(values.samples, '--samples'));
  set('requestTimeout', durationFlag(values.timeout));
  set('only', idList<McpAttackId>(values.only));
  set('skip', idList<McpAttackId>(values.skip));
  set('failOn', failOnFlag(values['fail-on']));
  return options;
}

export const command: CliCommand = {
  usage: USAGE,
  async run(argv, io) {
    const { values, positionals } = parse(argv);
    const [url, ...extra] = positionals;
    if (url === undefined) throw new UsageError('missing the MCP endpoint to attack, e.g. fixation-guard attack-mcp http://127.0.0.1:3000/mcp …');
    if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
    if (!/^https?:\/\/[^/]/i.test(url)) throw new UsageError(`the URL must start with http:// or https://; got ${JSON.stringify(url)}`);
    const options = optionsFrom(values, url, io.env);
    let report;
    try {
      report = await runMcpAttacks(url, options);
    } catch (err) {
      const kind = err instanceof TargetUnreachableError ? 'unreachable' : err instanceof McpAttackSetupError ? 'setup' : undefined;
      const known = kind !== undefined || (err instanceof Error && err.message.startsWith('runMcpAttacks:'));
      if (!known) throw err;
      if (values.json) io.out(JSON.stringify(errorDocument(kind ?? 'usage', (err as Error).message), null, 2));
      io.err(`fixation-guard: ${(err as Error).message}`);
      return EXIT.setup;
    }
    const color = !values['no-color'] && !io.env.NO_COLOR && io.stdoutIsTTY;
    io.out(values.json ? JSON.stringify(report, null, 2) : formatMcpReport(report, { color }));
    if (values.sarif) {
      try {
        writeFileSync(values.sarif, JSON.stringify(toSarif(report, packageVersion()), null, 2));
      } catch (err) {
        // A CI file that cannot be written is a setup error, never lost silently.
        io.err(`fixation-guard: --sarif ${values.sarif}: ${(err as Error).message}`);
        return EXIT.setup;
      }
    }
    return exitCodeOf(report.summary.verdict);
  },
};
