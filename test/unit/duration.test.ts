import { describe, expect, test } from 'vitest'
import { formatDuration, parseDuration } from '../../src/config/duration.js'

describe('durations as workflow files write them', () => {
  test.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1.5s', 1500],
    ['45', 45_000],
    ['0.25', 250],
    [' 10S ', 10_000]
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms)
  })

  test.each(['', 'soon', '10 s', '-5s', '5d', 's', '1m 30s', '1.2.3s', '30sx'])(
    '%j is not a duration',
    (text) => {
      expect(parseDuration(text)).toBeUndefined()
    }
  )

  test('formats for logs', () => {
    expect(formatDuration(250)).toBe('250ms')
    expect(formatDuration(1500)).toBe('1.5s')
    expect(formatDuration(125_000)).toBe('2m05s')
  })
})
