// A limit on bytes in flight across the whole run: every SFTP write holds its length until the
// server acknowledges it. ssh2 keeps a copy of each write until then, so this bounds the
// action's memory whatever the number of hosts, files or their sizes.

export interface ByteBudget {
  /** Resolves once `bytes` are reserved (at once, without a promise, when they are free). */
  acquire(bytes: number): Promise<void> | undefined
  release(bytes: number): void
}

export function createByteBudget(limit: number): ByteBudget {
  let used = 0
  const waiters: { bytes: number; resolve: () => void }[] = []
  const fits = (bytes: number): boolean => used === 0 || used + bytes <= limit
  return {
    acquire(bytes) {
      if (waiters.length === 0 && fits(bytes)) {
        used += bytes
        return undefined
      }
      return new Promise((resolve) => waiters.push({ bytes, resolve }))
    },
    release(bytes) {
      used -= bytes
      // First come, first served, so one busy host cannot starve another.
      for (let next = waiters[0]; next !== undefined && fits(next.bytes); next = waiters[0]) {
        waiters.shift()
        used += next.bytes
        next.resolve()
      }
    }
  }
}
