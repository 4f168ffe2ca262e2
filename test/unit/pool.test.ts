// The one pool (hosts of a run, files of a host): its limit, its follow-ups, its first failure.

import { describe, expect, test } from 'vitest'
import { runPool } from '../../src/deploy/pool.js'

const turn = (ms = 1): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

describe('the pool', () => {
  test('runs every item, at most `limit` at a time', async () => {
    let now = 0
    let most = 0
    const seen: number[] = []
    await runPool([10, 11, 12, 13, 14, 15, 16], 3, async (item, index) => {
      now += 1
      most = Math.max(most, now)
      await turn()
      seen.push(item - index)
      now -= 1
      return undefined
    })
    expect(most).toBe(3)
    expect(seen).toEqual([10, 10, 10, 10, 10, 10, 10])
  })

  test('the first failure stops new work; the pool rejects with it once the rest is over', async () => {
    const started: number[] = []
    let finished = 0
    const error = await runPool([1, 2, 3, 4, 5, 6], 2, async (item) => {
      started.push(item)
      await turn(item === 1 ? 1 : 5)
      if (item === 1) throw new Error('first')
      if (item === 2) throw new Error('second')
      finished += 1
      return undefined
    }).catch((caught: unknown) => caught)
    expect((error as Error).message).toBe('first')
    expect(started).toEqual([1, 2])
    expect(finished).toBe(0)
  })

  test('a follow-up goes on while its lane takes the next item, at most maxFollowUps pending', async () => {
    const order: string[] = []
    let pending = 0
    let most = 0
    await runPool(
      [1, 2, 3, 4],
      1,
      (item) => {
        order.push(`send ${item}`)
        pending += 1
        most = Math.max(most, pending)
        const rest = turn(3).then(() => {
          pending -= 1
          order.push(`publish ${item}`)
        })
        return Promise.resolve({ rest })
      },
      { maxFollowUps: 2 }
    )
    expect(most).toBe(2)
    expect(order.slice(0, 2)).toEqual(['send 1', 'send 2'])
    expect(order.filter((step) => step.startsWith('publish'))).toHaveLength(4)
  })

  test('a follow-up that fails fails the pool', async () => {
    const error = await runPool([1, 2], 1, () =>
      Promise.resolve({ rest: Promise.reject(new Error('verify')) })
    ).catch((caught: unknown) => caught)
    expect((error as Error).message).toBe('verify')
  })

  test('once the signal is aborted no item starts, and the pool rejects with its reason', async () => {
    const controller = new AbortController()
    const started: number[] = []
    const error = await runPool(
      [1, 2, 3],
      1,
      (item) => {
        started.push(item)
        controller.abort(new Error('stopped'))
        return Promise.resolve(undefined)
      },
      { signal: controller.signal }
    ).catch((caught: unknown) => caught)
    expect(started).toEqual([1])
    expect((error as Error).message).toBe('stopped')
  })
})
