// `node --import ./test/support/fs-glob.mjs node_modules/@modelcontextprotocol/conformance/dist/index.js …`:
// the conformance CLI imports `globSync` from `fs` (Node 22+); on Node 20 it gets a small one.
import { register } from 'node:module';

register('./fs-glob-hooks.mjs', import.meta.url);
