/** Prints the demo bearer token of a user: `npx tsx examples/mcp-vulnerable/token.ts alice`. */
import { demoBearer } from './app.js';

const user = process.argv[2];
if (!user || !/^[a-z0-9_-]{1,32}$/i.test(user)) {
  console.error('usage: npx tsx examples/mcp-vulnerable/token.ts <user>   (e.g. alice or bob)');
  process.exit(2);
}
console.log(demoBearer(user));
