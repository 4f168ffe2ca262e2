// A reader polling a live path while a deploy replaces the file never sees a torn file. The
// same reader does see torn files when the action writes in place (atomic: false), which shows
// it would notice.

import { readFile } from 'node:fs/promises'
import { describe, expect, test } from 'vitest'
import { pseudoRandomBytes, workspace } from '../helpers/workspace.js'
import { fleetInputs, proxiedInputs, runAction, sha256 } from '../harness/run-action.js'
import { useFleet } from '../harness/sshd.js'
import { startProxy } from '../harness/tcp-proxy.js'

const fleet = useFleet({ count: 1 })

const SIZE = 6 * 1024 * 1024

/** Deploys v1, then v2 through a slow link while reading the live path; counts what it saw. */
async function replaceWhileReading(
  atomic: boolean
): Promise<{ whole: number; torn: number; last: string }> {
  const host = fleet.host(0)
  const target = `live-${String(atomic)}`
  const v1 = pseudoRandomBytes(SIZE, 1)
  const v2 = pseudoRandomBytes(SIZE, 2)
  const known = new Set([sha256(v1), sha256(v2)])
  const first = await runAction(fleetInputs(fleet, [host], { target, atomic: String(atomic) }), {
    cwd: workspace({ 'app.bin': v1 })
  })
  expect(first.code, first.stdout).toBe(0)

  // 12 MiB/s: the replacement takes about half a second, during which the reader keeps reading.
  const proxy = await startProxy(host, [{ bytesPerSecond: 12 * 1024 * 1024 }])
  const reading = { on: true }
  let whole = 0
  let torn = 0
  const reader = (async () => {
    while (reading.on) {
      const content = await readFile(host.path(`${target}/app.bin`))
      if (known.has(sha256(content))) whole += 1
      else torn += 1
      await new Promise((resolve) => setImmediate(resolve))
    }
  })()
  try {
    const second = await runAction(
      proxiedInputs(fleet, proxy, host, { target, atomic: String(atomic), verify: 'size' }),
      { cwd: workspace({ 'app.bin': v2 }) }
    )
    expect(second.code, second.stdout).toBe(0)
  } finally {
    reading.on = false
    await reader
    await proxy.stop()
  }
  const last = sha256(await readFile(host.path(`${target}/app.bin`)))
  expect(last).toBe(sha256(v2))
  return { whole, torn, last }
}

describe('atomic publish', () => {
  test('a reader polling the final path never sees a torn file', async () => {
    const seen = await replaceWhileReading(true)
    expect(seen.whole).toBeGreaterThan(20)
    expect(seen.torn).toBe(0)
  })

  test('writing in place (atomic: false) does expose torn files to the same reader', async () => {
    const seen = await replaceWhileReading(false)
    expect(seen.torn).toBeGreaterThan(0)
  })
})
