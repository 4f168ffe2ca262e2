// A running host as the progress lines and the live display show it: rate over the recent past,
// ETA, phase; and the live display's frame.

import { describe, expect, test } from 'vitest'
import { finalText, renderFrame, type HostState } from '../../src/cli/display.js'
import { createHostProgress, startSending } from '../../src/deploy/progress.js'
import { notAttempted, type HostResult } from '../../src/deploy/result.js'
import {
  progressText,
  RateMeter,
  sampleRate,
  snapshotOf,
  type HostSnapshot
} from '../../src/deploy/status.js'

const MiB = 1024 * 1024

describe('the rate', () => {
  test('none before a second of sending; then bytes over the time since sending began', () => {
    const meter = new RateMeter()
    const start = { at: 1000, bytes: 0 }
    expect(meter.sample(1500, MiB, start)).toBeUndefined()
    expect(meter.sample(2000, 2 * MiB, start)).toBe(2 * MiB)
    expect(meter.sample(3000, 3 * MiB, start)).toBe(1.5 * MiB)
  })

  test('over the last five seconds only', () => {
    const meter = new RateMeter()
    const start = { at: 0, bytes: 0 }
    // 10 MiB/s for 10 s, then 1 MiB/s.
    for (let second = 1; second <= 10; second++)
      meter.sample(second * 1000, second * 10 * MiB, start)
    let rate: number | undefined
    for (let second = 11; second <= 20; second++)
      rate = meter.sample(second * 1000, 100 * MiB + (second - 10) * MiB, start)
    expect(rate).toBeGreaterThanOrEqual(MiB)
    expect(rate).toBeLessThan(1.5 * MiB)
  })

  test('starts afresh on a new attempt, and is none while not sending', () => {
    const meter = new RateMeter()
    const progress = createHostProgress()
    expect(sampleRate(meter, progress, 0)).toBeUndefined() // connecting
    progress.bytes = 5 * MiB
    startSending(progress, 10 * MiB)
    const began = progress.sendStart?.at ?? 0
    progress.bytes = 7 * MiB
    expect(sampleRate(meter, progress, began + 2000)).toBe(MiB)
    progress.phase = 'retrying'
    expect(sampleRate(meter, progress, began + 3000)).toBeUndefined()
  })
})

describe('a snapshot', () => {
  test('sending: bytes of the goal, ETA at the rate', () => {
    const progress = createHostProgress()
    progress.attempts = 2
    startSending(progress, 8 * MiB)
    progress.bytes = 2 * MiB
    progress.uploaded = 3
    const host = snapshotOf('web1', progress, 40, 2 * MiB)
    expect(host).toMatchObject({ phase: 'sending', filesDone: 3, bytesGoal: 8 * MiB, etaMs: 3000 })
    expect(progressText(host)).toBe(
      'sending, 3/40 files, 2.00 MiB of 8.00 MiB, 2.00 MiB/s, ETA 3.0s, attempt 2'
    )
  })

  test('every byte sent: verifying, no ETA', () => {
    const progress = createHostProgress()
    startSending(progress, MiB)
    progress.bytes = MiB
    const host = snapshotOf('web1', progress, 1, MiB)
    expect(host.phase).toBe('verifying')
    expect(host.etaMs).toBeUndefined()
    expect(progressText(host)).toBe('verifying, 0/1 files, 1.00 MiB sent, 1.00 MiB/s, attempt 0')
  })

  test('before sending: the phase, no rate', () => {
    const host = snapshotOf('web1', createHostProgress(), 5, undefined)
    expect(progressText(host)).toBe('connecting, 0/5 files, 0 B sent, attempt 0')
  })
})

describe('the live display', () => {
  const result = (host: string, overrides: Partial<HostResult> = {}): HostResult => ({
    ...notAttempted(host, 2, ''),
    status: 'success',
    uploaded: 2,
    bytes: 2 * MiB,
    durationMs: 1500,
    attempts: 1,
    ...overrides
  })
  const running = (label: string): HostSnapshot =>
    snapshotOf(label, { ...createHostProgress(), phase: 'sending', sendGoal: MiB }, 2, MiB)

  test('a line per host, waiting, running or done, and a total', () => {
    const states = new Map<string, HostState>([
      ['b', { kind: 'running', snapshot: running('b') }],
      ['c', { kind: 'done', result: result('c') }]
    ])
    const frame = renderFrame(['a', 'b', 'c'], states, { columns: 200, rows: 20 }).split('\n')
    expect(frame).toEqual([
      'a      waiting',
      `b      ${progressText(running('b'))}`,
      'c      success, 2 uploaded, 0 unchanged, 2.00 MiB in 1.5s',
      'total  1/3 hosts done, 2/4 files, 2.00 MiB sent, 1.00 MiB/s, ETA 1.0s'
    ])
  })

  test('more hosts than rows: running and failed first, the rest counted; lines clipped', () => {
    const labels = Array.from({ length: 10 }, (_, index) => `host${index}`)
    const states = new Map<string, HostState>([
      ['host7', { kind: 'running', snapshot: running('host7') }],
      [
        'host8',
        { kind: 'done', result: result('host8', { status: 'failed', error: 'no route to host' }) }
      ]
    ])
    const frame = renderFrame(labels, states, { columns: 40, rows: 5 }).split('\n')
    // A line is left for the cursor: 4 of the 5 rows.
    expect(frame).toHaveLength(4)
    expect(frame[0]).toMatch(/^host7 +sending/)
    expect(frame[1]).toMatch(/^host8 +failed: no route/)
    expect(frame[2]).toMatch(/^… +8 more hosts/)
    expect(frame[3]).toMatch(/^total +1\/10 hosts done \(1 failed\)/)
    for (const line of frame) expect(line.length).toBeLessThanOrEqual(40)
  })

  test('a failed and a skipped host say why', () => {
    expect(finalText(result('a', { status: 'failed', error: 'host key mismatch' }))).toMatch(
      /^failed: host key mismatch \(2 uploaded/
    )
    expect(finalText(notAttempted('b', 2, 'the deadline passed'))).toBe(
      'not attempted: the deadline passed'
    )
  })
})
