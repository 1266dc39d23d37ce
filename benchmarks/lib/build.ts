/**
 * Builds the working tree into dist/ the way `npm run build` does (tsup.config.ts), minus the
 * declaration files: the benchmarks run the JavaScript, and the .d.ts pass is most of a build's
 * time (about 45 s of 50 on a small machine), which `--quick` cannot afford. Declarations
 * already in dist/ are left as they were; `npm run build` refreshes them.
 */
import { build, type Options } from 'tsup';
import config from '../../tsup.config.js';

export async function buildDist(): Promise<void> {
  const base = config as Options;
  await build({ ...base, dts: false, clean: false, silent: true });
}
