import { describe, expect, test } from 'vitest'
import { createByteBudget } from '../../src/byte-budget.js'

describe('byte budget', () => {
  test('grants at once while there is room, then in order as bytes come back', async () => {
    const budget = createByteBudget(100)
    expect(budget.acquire(60)).toBeUndefined()
    const order: string[] = []
    const second = budget.acquire(60)?.then(() => order.push('second'))
    const third = budget.acquire(30)?.then(() => order.push('third'))
    expect(second).toBeInstanceOf(Promise)
    // A smaller request does not overtake an earlier one.
    expect(third).toBeInstanceOf(Promise)
    budget.release(60)
    await Promise.all([second, third])
    expect(order).toEqual(['second', 'third'])
  })

  test('a request larger than the whole budget still goes through when nothing else is held', () => {
    const budget = createByteBudget(10)
    expect(budget.acquire(50)).toBeUndefined()
  })
})
