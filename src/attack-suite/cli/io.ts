/** Where a command writes. The process's streams in the CLI; buffers in tests. */
export interface CliIO {
  /** Writes to stdout (a line break is added). */
  out(text: string): void;
  /** Writes to stderr (a line break is added). */
  err(text: string): void;
  /** Progress on stderr: only on a TTY, overwriting one line. */
  progress(text: string): void;
  /** Whether stdout is a terminal (colours). */
  readonly stdoutIsTTY: boolean;
  readonly env: NodeJS.ProcessEnv;
}

/** The process's streams. Progress goes to stderr only when stderr is a terminal. */
export function processIO(): CliIO {
  const progressOn = process.stderr.isTTY === true;
  let shown = false;
  const clear = () => {
    if (shown) process.stderr.write('\r\x1b[2K');
    shown = false;
  };
  return {
    out(text) {
      clear();
      process.stdout.write(`${text}\n`);
    },
    err(text) {
      clear();
      process.stderr.write(`${text}\n`);
    },
    progress(text) {
      if (!progressOn) return;
      const width = Math.max(20, (process.stderr.columns ?? 80) - 1);
      process.stderr.write(`\r\x1b[2K${text.length > width ? `${text.slice(0, width - 1)}…` : text}`);
      shown = text !== '';
      if (!shown) process.stderr.write('\r\x1b[2K');
    },
    stdoutIsTTY: process.stdout.isTTY === true,
    env: process.env,
  };
}
