// Memory held by a long upload. Every SSH packet leaves behind a cipher object and its
// ciphertext, dead within a tick; how much of that the process holds at once is up to V8.
//
// - The young generation stays at its starting size for the whole run: left alone, V8 grows it
//   under this churn and the process keeps the memory.
// - The ciphertext lives outside the V8 heap, and a scavenge comes only when the young
//   generation fills with the small objects around it; until then the dead ciphertext stays
//   allocated (and malloc keeps the pages). A minor collection after every GARBAGE_BYTES sent
//   keeps it to a few MiB, and costs little: the young generation is almost empty.
//
// The bytes sent since the last collection are counted for the whole process, as V8's heap is
// one per process: that counter is this module's state, on purpose.
//
// The runner starts `node dist/index.js` without flags, so the flags are set here, before
// anything else runs; V8 reads both when it needs them.
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

setFlagsFromString('--semi-space-growth-factor=1')
setFlagsFromString('--expose-gc')

type Collect = (options: { type: 'minor' | 'major' }) => void
// With --expose-gc set, every new context gets `gc`.
const collect: Collect | undefined = (() => {
  try {
    const found: unknown = runInNewContext('typeof gc === "function" ? gc : undefined')
    return typeof found === 'function' ? (found as Collect) : undefined
  } catch {
    return undefined
  }
})()

export const GARBAGE_BYTES = 8 * 1024 * 1024
let sinceCollect = 0
let collectEvery = GARBAGE_BYTES

/**
 * A thread of a fan-out over `threads` (each has a heap of its own): collects every
 * GARBAGE_BYTES / threads, so that all of them together hold about what one thread would.
 */
export function shareGarbageBudget(threads: number): void {
  collectEvery = Math.max(1024 * 1024, Math.floor(GARBAGE_BYTES / threads))
}

/** `bytes` of short-lived buffers were handed to a socket: collect them every GARBAGE_BYTES. */
export function noteGarbage(bytes: number): void {
  sinceCollect += bytes
  if (sinceCollect < collectEvery || collect === undefined) return
  sinceCollect = 0
  collect({ type: 'minor' })
}
