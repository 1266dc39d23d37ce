// Resolve hook for test/support/express4.mjs: the bare specifier `express` becomes `express4`.
export async function resolve(specifier, context, next) {
  return next(specifier === 'express' ? 'express4' : specifier, context);
}
