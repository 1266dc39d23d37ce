/** Memory per idle pre-auth MCP session, in its own `node --expose-gc` process (benchmarks/mcp-preauth-worker.ts). */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface McpPreAuthResult {
  sessions: number;
  liveSessions: number;
  heapBytesPerSession: number;
  rssBytesPerSession: number;
  openMsPerSession: number;
  defaults: { maxPerIp: number; maxSessions: number; idleTimeoutMs: number };
  /** heapBytesPerSession × the default pre-auth pool (`preAuth.maxSessions`), in MiB. */
  boundMiB: number;
  perIpAccepted: number;
  perIpRefusalStatus: number;
}

const WORKER = fileURLToPath(new URL('../mcp-preauth-worker.ts', import.meta.url));

export function runMcpPreAuth(count: number, log: (line: string) => void): Promise<McpPreAuthResult> {
  log(`▶ MCP pre-auth sessions: memory per idle, never-authenticated session at ${count.toLocaleString('en')} sessions`);
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--expose-gc', '--no-warnings', '--import', 'tsx', WORKER, String(count)], { env: { ...process.env, NODE_ENV: 'development' }, maxBuffer: 1 << 20, timeout: 600_000 }, (err, stdout) => {
      if (err) return reject(err);
      try {
        const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as McpPreAuthResult;
        log(`  ${result.heapBytesPerSession} B heap/session (${result.rssBytesPerSession} B RSS), default pool ${result.defaults.maxSessions} → ≤ ${result.boundMiB} MiB; one IP: ${result.perIpAccepted} then ${result.perIpRefusalStatus}`);
        resolve(result);
      } catch {
        reject(new Error(`mcp pre-auth worker printed no result: ${stdout}`));
      }
    });
  });
}

/** The section of latest.md. */
export function mcpPreAuthMarkdown(result: McpPreAuthResult): string {
  const minutes = result.defaults.idleTimeoutMs / 60_000;
  return [
    '',
    '#### MCP: idle pre-auth sessions',
    '',
    `| sessions | heap / session | RSS / session | default pool (\`preAuth.maxSessions\`) | its bound | per IP (\`preAuth.maxPerIp\`) | idle timeout |`,
    '| --- | --- | --- | --- | --- | --- | --- |',
    `| ${result.sessions.toLocaleString('en')} | ${(result.heapBytesPerSession / 1024).toFixed(1)} KiB | ${(result.rssBytesPerSession / 1024).toFixed(1)} KiB | ${result.defaults.maxSessions} | ≤ ${result.boundMiB} MiB heap | ${result.defaults.maxPerIp} (the ${result.perIpAccepted + 1}st: ${result.perIpRefusalStatus}) | ${minutes} min |`,
    '',
  ].join('\n');
}
