import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const heapModule = fileURLToPath(new URL('../../src/ssh/heap.ts', import.meta.url))

/** Runs an ES module script in a new Node process (TypeScript imports allowed); its stdout. */
const runScript = (script: string): string => {
  const child = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script],
    {
      encoding: 'utf8'
    }
  )
  expect(child.stderr).toBe('')
  return child.stdout.trim()
}

// Churns through short-lived objects, as ssh2 does per packet; returns the young generation's
// size in MiB before and after.
const churn = (setup: string): number[] =>
  runScript(`${setup}
import { getHeapSpaceStatistics } from 'node:v8'
const young = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 1048576
const before = young()
let keep = []
for (let i = 0; i < 2e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 1000) keep = [] }
console.log(before, young())`)
    .split(' ')
    .map(Number)

describe('heap', () => {
  it('keeps the young generation at its starting size', () => {
    const [start, grown] = churn('')
    expect(grown).toBeGreaterThanOrEqual(4 * (start ?? 0))
    const [before, after] = churn(`await import(${JSON.stringify(heapModule)})`)
    expect(before).toBeGreaterThan(0)
    expect(after).toBe(before)
  })

  it('collects the young generation after every GARBAGE_BYTES handed to sockets, not before', () => {
    // Counts the minor collections that happen during each step; nothing else allocates.
    const counts = runScript(`
import { constants, PerformanceObserver } from 'node:perf_hooks'
const { GARBAGE_BYTES, noteGarbage } = await import(${JSON.stringify(heapModule)})
let minor = 0
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) if (entry.detail.kind === constants.NODE_PERFORMANCE_GC_MINOR) minor += 1
}).observe({ entryTypes: ['gc'] })
const settle = () => new Promise((resolve) => setTimeout(resolve, 50))
await settle()
const seen = []
for (const bytes of [GARBAGE_BYTES - 1, 1, GARBAGE_BYTES / 2, GARBAGE_BYTES / 2]) {
  const before = minor
  noteGarbage(bytes)
  await settle()
  seen.push(minor - before)
}
console.log(seen.join(' '))`)
    expect(counts.split(' ').map(Number)).toEqual([0, 1, 0, 1])
  })
})
