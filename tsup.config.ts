import { defineConfig } from 'tsup';

// One entry per subpath export; ESM first, CJS beside it, declarations for both.
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'redis/index': 'src/redis/index.ts',
    'mcp/index': 'src/mcp/index.ts',
    'attack-suite/index': 'src/attack-suite/index.ts',
    'attack-suite/cli': 'src/attack-suite/cli.ts',
    'request-methods/index': 'src/request-methods/index.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  platform: 'node',
  splitting: true,
  shims: true,
});
