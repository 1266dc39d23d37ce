/** Heap per session: each kind in its own `node --expose-gc` process (benchmarks/memory-worker.ts). */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface MemoryResult {
  kind: 'plain' | 'guard' | 'guard-tombstones';
  count: number;
  heapBytesPerSession: number;
  heapUsedDeltaMiB: number;
  storeKeys: number;
  recordBytes: number;
  idLength: number;
  writeMs: number;
  /** heapBytesPerSession / plain's. */
  ratio?: number;
}

const WORKER = fileURLToPath(new URL('../memory-worker.ts', import.meta.url));

function runWorker(kind: MemoryResult['kind'], count: number): Promise<MemoryResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--expose-gc', '--no-warnings', '--import', 'tsx', WORKER, kind, String(count)],
      { env: { ...process.env, NODE_ENV: 'development' }, maxBuffer: 1 << 20, timeout: 300_000 },
      (err, stdout) => {
        if (err) return reject(err);
        const line = stdout.trim().split('\n').at(-1) ?? '';
        try {
          resolve(JSON.parse(line) as MemoryResult);
        } catch {
          reject(new Error(`memory worker printed no result: ${stdout}`));
        }
      },
    );
  });
}

export async function runMemory(count: number, log: (line: string) => void): Promise<MemoryResult[]> {
  log(`▶ Memory: heap per session at ${count.toLocaleString('en')} sessions (MemoryStore)`);
  const results: MemoryResult[] = [];
  for (const kind of ['plain', 'guard', 'guard-tombstones'] as const) {
    const result = await runWorker(kind, count);
    results.push(result);
    log(`  ${kind}: ${result.heapBytesPerSession} B/session (${result.heapUsedDeltaMiB} MiB), record ${result.recordBytes} B JSON`);
  }
  const plain = results[0]?.heapBytesPerSession ?? 0;
  for (const r of results) r.ratio = plain > 0 ? Math.round((r.heapBytesPerSession / plain) * 100) / 100 : Number.NaN;
  return results;
}
