// Resolve hook for test/support/fs-glob.mjs: `fs` imported by the conformance CLI resolves to a
// module that is `node:fs` plus `globSync`, which Node adds in 22.
const SHIM = new URL('./fs-glob-shim.mjs', import.meta.url).href;

export async function resolve(specifier, context, next) {
  if ((specifier === 'fs' || specifier === 'node:fs') && context.parentURL && /\/(@modelcontextprotocol\/conformance|mcp-conformance-next)\/dist\//.test(context.parentURL)) {
    return { url: SHIM, shortCircuit: true };
  }
  return next(specifier, context);
}
