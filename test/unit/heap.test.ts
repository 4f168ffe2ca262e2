import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const heapModule = fileURLToPath(new URL('../../src/heap.ts', import.meta.url))

// Churns through short-lived objects, as ssh2 does per packet; returns the young generation's
// size in MiB before and after.
const churn = (setup: string): number[] => {
  const script = `${setup}
import { getHeapSpaceStatistics } from 'node:v8'
const young = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 1048576
const before = young()
let keep = []
for (let i = 0; i < 2e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 1000) keep = [] }
console.log(before, young())`
  const child = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script],
    {
      encoding: 'utf8'
    }
  )
  expect(child.stderr).toBe('')
  return child.stdout.trim().split(' ').map(Number)
}

describe('heap', () => {
  it('keeps the young generation at its starting size', () => {
    const [start, grown] = churn('')
    expect(grown).toBeGreaterThanOrEqual(4 * (start ?? 0))
    const [before, after] = churn(`await import(${JSON.stringify(heapModule)})`)
    expect(before).toBeGreaterThan(0)
    expect(after).toBe(before)
  })
})
