// The deploy lock's record and its error, without a host (the e2e tests take real locks).
import { describe, expect, test } from 'vitest'
import { lockedError, lockText, parseLock } from '../../src/deploy/lock.js'

describe('the lock record', () => {
  const record = {
    holder: "o/r workflow 'w' run 7 attempt 2",
    token: 'ab-3',
    run: 'ab',
    since: '2026-12-05T08:00:00.000Z'
  }

  test('written as one JSON line and read back', () => {
    expect(lockText(record)).toMatch(/^\{.*\}\n$/)
    expect(parseLock(lockText(record))).toEqual(record)
  })

  test('what is not one of ours reads as unknown', () => {
    expect(parseLock('locked by hand\n')).toBeUndefined()
    expect(parseLock('{"holder": 1}')).toBeUndefined()
  })

  test('the error names the holder, the age, the file and how to clear it', () => {
    const error = lockedError('/srv/www/.deploy.lock', record, Date.parse(record.since) + 125_000)
    expect(error.kind).toBe('locked')
    expect(error.retryable).toBe(false)
    expect(error.message).toBe(
      "the target is locked by o/r workflow 'w' run 7 attempt 2, taken 2m05s ago (/srv/www/.deploy.lock); if that deploy is no longer running, remove the lock on the host (rm '/srv/www/.deploy.lock') and deploy again"
    )
    expect(lockedError('/srv/www/.deploy.lock', undefined).message).toMatch(
      /^the target is locked by another deploy \(the lock file does not say which\) \(/
    )
  })
})
