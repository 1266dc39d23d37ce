// The `express4` npm alias (Express 4.22) has no types of its own; the tests only compare it by identity.
declare module 'express4' {
  const express: unknown;
  export default express;
}
