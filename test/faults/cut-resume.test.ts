// Connections cut at random points of an upload, 24 seeds: every run ends with byte-identical
// files or a reported failure, never a partial or corrupt file at a final path, never a
// temporary file left behind; a retry continues each file from what the server holds.

import { describe, expect, test } from 'vitest'
import { MAX_CHUNK } from '../../src/transfer/upload.js'
import { pseudoRandomBytes, workspace } from '../helpers/workspace.js'
import {
  fleetInputs,
  proxiedInputs,
  results,
  runAction,
  sha256,
  treeDigest
} from '../harness/run-action.js'
import { useFleet } from '../harness/sshd.js'
import { startProxy } from '../harness/tcp-proxy.js'

const fleet = useFleet({ count: 1 })

const BIG = 8 * 1024 * 1024

/** A small deterministic generator, so a failing seed can be replayed. */
function random(seed: number): () => number {
  let x = seed * 2654435761
  return () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return ((x >>> 0) % 1_000_000) / 1_000_000
  }
}

interface Figures {
  seed: number
  cutAt: number
  resumed: number
  resent: number
  attempts: number
}
const figures: Figures[] = []

describe('cut at a random offset', () => {
  const seeds = Array.from({ length: 20 }, (_, index) => index + 1)

  test.each(seeds)('seed %i', async (seed) => {
    const next = random(seed)
    const files: Record<string, Buffer | string> = { 'big.bin': pseudoRandomBytes(BIG, seed) }
    for (let i = 0; i < 4; i += 1)
      files[`small/${i}.txt`] = `seed ${seed} file ${i}\n`.repeat(50 * (i + 1))
    const ws = workspace(files)
    const total = Object.values(files).reduce((sum, content) => sum + content.length, 0)
    const host = fleet.host(0)

    // A previous version at the target: a failed run must leave it whole.
    const target = `cut-${seed}`
    const old: Record<string, string> = { 'big.bin': `old big ${seed}` }
    for (let i = 0; i < 4; i += 1) old[`small/${i}.txt`] = `old version ${i}`
    const previous = await runAction(fleetInputs(fleet, [host], { target }), {
      cwd: workspace(old)
    })
    expect(previous.code, previous.stdout).toBe(0)
    const before = treeDigest(host.path(target))

    // Every fourth seed cuts every attempt early: the run must fail cleanly. The others cut
    // once or twice, then let the retry through (a second cut may fall beyond what the resumed
    // attempt still has to send).
    const doomed = seed % 4 === 0
    const cuts = doomed ? 3 : 1 + (seed % 2)
    const cutAt = Array.from({ length: cuts }, () =>
      Math.floor(300_000 + next() * (doomed ? 1_000_000 : BIG * 0.9))
    )
    const proxy = await startProxy(
      host,
      cutAt.map((bytes) => (seed % 3 === 0 ? { resetAfter: bytes } : { cutAfter: bytes }))
    )
    try {
      const run = await runAction(
        proxiedInputs(fleet, proxy, host, {
          source: '**',
          target,
          retries: doomed ? '2' : '3',
          'retry-delay': '50ms',
          'idle-timeout': '10s'
        }),
        { cwd: ws, timeoutMs: 60_000 }
      )
      const [result] = results(run)
      const tripped = proxy.connections.filter((connection) => connection.tripped).length
      const landed = treeDigest(host.path(target))
      const temporaries = Object.keys(landed).filter((path) => path.endsWith('.sfd-tmp'))
      expect(temporaries, run.stdout).toEqual([])

      if (doomed) {
        expect(run.code).toBe(1)
        expect(tripped).toBe(3)
        expect(result).toMatchObject({ status: 'failed', attempts: 3 })
        expect(['network', 'connection-lost']).toContain(result?.errorClass)
        // The previous version is untouched; nothing partial stands at a final path.
        expect(landed).toEqual(before)
      } else {
        expect(run.code, run.stdout).toBe(0)
        expect(tripped).toBeGreaterThan(0)
        expect(result).toMatchObject({ status: 'success', attempts: tripped + 1 })
        // A file renamed into place just before a cut is found identical by the retry.
        expect((result?.uploaded ?? 0) + (result?.skipped ?? 0)).toBe(5)
        const expected: Record<string, string> = {}
        for (const [path, content] of Object.entries(files)) expected[path] = sha256(content)
        expect(landed).toEqual(expected)
        // Bytes the server had acknowledged are never sent again: all that is resent is what
        // was in flight, unacknowledged, when the connection died (at most a chunk per write).
        const resent = (result?.bytes ?? 0) - total
        expect(resent).toBeLessThanOrEqual(MAX_CHUNK)
        figures.push({
          seed,
          cutAt: cutAt[0] ?? 0,
          resumed: result?.resumedBytes ?? 0,
          resent,
          attempts: result?.attempts ?? 0
        })
      }
    } finally {
      await proxy.stop()
    }
  })

  test('with resume: false a retry sends the whole file again', async () => {
    const host = fleet.host(0)
    const big = pseudoRandomBytes(BIG, 99)
    const proxy = await startProxy(host, [{ cutAfter: BIG / 2 }])
    try {
      const run = await runAction(
        proxiedInputs(fleet, proxy, host, {
          target: 'no-resume',
          resume: 'false',
          'retry-delay': '50ms'
        }),
        { cwd: workspace({ 'big.bin': big }) }
      )
      expect(run.code, run.stdout).toBe(0)
      const [result] = results(run)
      expect(result).toMatchObject({ status: 'success', attempts: 2, resumedBytes: 0 })
      // Everything acknowledged before the cut is sent again.
      expect(result?.bytes ?? 0).toBeGreaterThan(BIG + BIG / 8)
      expect(treeDigest(host.path('no-resume'))).toEqual({ 'big.bin': sha256(big) })
    } finally {
      await proxy.stop()
    }
  })

  test('resuming is what saves the bytes: late cuts resume most of the file', () => {
    const late = figures.filter((figure) => figure.cutAt > BIG / 2)
    expect(late.length).toBeGreaterThan(0)
    for (const figure of late) expect(figure.resumed).toBeGreaterThan(0)
    const lost = figures.map((figure) => Math.max(0, figure.cutAt - figure.resumed))
    console.log(
      `cut/resume over ${figures.length} runs: resumed ${figures.map((f) => f.resumed).join(', ')} bytes; ` +
        `between the cut and the resume point at most ${Math.max(...lost)} bytes (server-side buffers)`
    )
  })
})
