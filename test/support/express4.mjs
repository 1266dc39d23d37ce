// `node --import ./test/support/express4.mjs`: every `import 'express'` of the process
// loads Express 4 (the `express4` npm alias) instead, so the same test files run on both.
import { register } from 'node:module';

register('./express4-hooks.mjs', import.meta.url);
process.env.FIXATION_GUARD_TEST_EXPRESS = '4';
