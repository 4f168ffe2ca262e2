import { describe, expect, test } from 'vitest'
import { createSessionGate } from '../../src/deploy/session-gate.js'

/** Whether `promise` has settled within a few turns of the event loop. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false
  void promise.then(() => (done = true))
  for (let turn = 0; turn < 5; turn += 1) await new Promise((resolve) => setImmediate(resolve))
  return done
}

describe('session gate', () => {
  test('second sessions wait until every host opening its first has it', async () => {
    const gate = createSessionGate(60_000)
    const hostA = gate.first()
    const hostB = gate.first()
    const second = gate.second()
    expect(await settled(second)).toBe(false)
    hostA()
    // Said twice, it counts once.
    hostA()
    expect(await settled(second)).toBe(false)
    hostB()
    expect(await settled(second)).toBe(true)
    // With no host opening its first session, at once.
    expect(await settled(gate.second())).toBe(true)
  })

  test('no second session waits longer than the limit', async () => {
    const gate = createSessionGate(20)
    gate.first()
    const started = Date.now()
    await gate.second()
    expect(Date.now() - started).toBeGreaterThanOrEqual(15)
  })
})
