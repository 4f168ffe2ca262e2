// One pool for work on many items a few at a time: the hosts of a run, the files of a host, the
// directories looked at for links.

/** The rest of an item's work. (A promise cannot be returned bare: awaiting would wait for it.) */
export interface FollowUp {
  readonly rest: Promise<void>
}

export interface PoolOptions {
  /** Once aborted, no item starts, and the pool rejects with its reason. */
  readonly signal?: AbortSignal
  /** Follow-ups pending at most; a lane waits before taking its next item. */
  readonly maxFollowUps?: number
}

/**
 * Runs `worker` over `items`, `limit` at a time. A worker may return a follow-up (the rest of
 * that item's work: verifying and publishing) that goes on while its lane takes the next item.
 * The first failure stops new work; the pool rejects with it once the work under way is over.
 */
export async function runPool<T>(
  items: readonly T[],
  limit: number,
  worker: (item: T, index: number) => Promise<FollowUp | undefined>,
  options: PoolOptions = {}
): Promise<void> {
  const { signal, maxFollowUps = 1024 } = options
  let next = 0
  const state: { failure?: { error: unknown } } = {}
  const followUps = new Set<Promise<void>>()
  const fail = (error: unknown): void => {
    state.failure ??= { error }
  }
  const lane = async (): Promise<void> => {
    while (state.failure === undefined && signal?.aborted !== true && next < items.length) {
      const index = next
      next += 1
      try {
        const followUp = await worker(items[index] as T, index)
        if (followUp !== undefined) {
          const tracked: Promise<void> = followUp.rest
            .catch(fail)
            .finally(() => followUps.delete(tracked))
          followUps.add(tracked)
        }
        while (followUps.size >= maxFollowUps) await Promise.race(followUps)
      } catch (error) {
        fail(error)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane))
  await Promise.all(followUps)
  if (state.failure !== undefined) throw state.failure.error
  if (signal?.aborted === true) throw signal.reason
}
