import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import express from 'express';

/**
 * `npm test` runs the guard's core tests and the attack suite twice: on Express 5, then on
 * Express 4 (scripts/run-tests.ts imports test/support/express4.mjs, which makes every
 * `import 'express'` load the `express4` alias). This checks that the swap really happened,
 * so the second run can never silently test Express 5 again.
 */
describe('the Express under test', () => {
  it(`is Express ${process.env.FIXATION_GUARD_TEST_EXPRESS ?? '5'} in this run`, async () => {
    const express4 = (await import('express4')).default;
    const expected = process.env.FIXATION_GUARD_TEST_EXPRESS === '4';
    assert.equal(express === (express4 as unknown), expected);
    // Express 5 parses req.query lazily (a getter); Express 4 has a query middleware.
    assert.equal(typeof (express as unknown as { query?: unknown }).query === 'function', expected);
  });
});
