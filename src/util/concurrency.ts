/**
 * How many store calls a bulk operation (revoke all, list sessions) keeps in flight. On Redis
 * they share one pipelined connection, so a user's 1,000 sessions cost a few round trips
 * instead of 2,000 sequential ones; the bound keeps a principal with 100k sessions from
 * opening 100k promises at once.
 */
export const BULK_CONCURRENCY = 64;

/**
 * Runs `fn` over `items`, at most `limit` at a time, and resolves to the results in order.
 * Every item is attempted even when one fails (a revocation must not stop half-way: the index
 * no longer lists the rest); then the first error is thrown.
 */
export async function settleAll<T, R>(items: readonly T[], fn: (item: T) => Promise<R>, limit = BULK_CONCURRENCY): Promise<R[]> {
  const results = new Array<R>(items.length);
  let failure: { error: unknown } | undefined;
  let next = 0;
  async function worker(): Promise<void> {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i] as T);
      } catch (error) {
        failure ??= { error };
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
  return results;
}

export type Settled<R> = { ok: true; value: R } | { ok: false; error: unknown };

/** Like `settleAll`, but never throws: each item's outcome, in order. */
export async function settleEach<T, R>(items: readonly T[], fn: (item: T) => Promise<R>, limit = BULK_CONCURRENCY): Promise<Settled<R>[]> {
  return await settleAll(
    items,
    async (item): Promise<Settled<R>> => {
      try {
        return { ok: true, value: await fn(item) };
      } catch (error) {
        return { ok: false, error };
      }
    },
    limit,
  );
}
