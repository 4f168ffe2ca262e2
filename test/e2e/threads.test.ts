// The fan-out over worker threads, as the runner runs it: every host deployed from its thread
// with every file verified, per-host logs and results as with one thread, a cancelled run that
// ends every thread's connections, and the same temporary names a retry would look for.

import { existsSync, readFileSync } from 'node:fs'
import { describe, expect, test } from 'vitest'
import { pseudoRandomBytes, workspace } from '../helpers/workspace.js'
import {
  fleetInputs,
  hostLogLines,
  logOf,
  results,
  runAction,
  sha256,
  treeDigest
} from '../harness/run-action.js'
import { useFleet, type TestHost } from '../harness/sshd.js'

const fleet = useFleet({ count: 4 })
const hosts = (): TestHost[] => fleet.hosts
const label = (h: TestHost): string => `${fleet.user}@${h.entry}`

describe('threads', () => {
  test('3 threads for 4 hosts: every host gets every file, verified; logs and results per host', async () => {
    const files = {
      'big.bin': pseudoRandomBytes(12 * 1024 * 1024, 21),
      'index.html': '<h1>threads</h1>',
      'js/app.js': 'console.log(1)'
    }
    const run = await runAction(
      fleetInputs(fleet, hosts(), { target: 'threads/three', threads: '3' }),
      { cwd: workspace(files) }
    )
    expect(run.code, logOf(run)).toBe(0)
    expect(logOf(run)).toMatch(/8 host\(s\) at once, 3 thread\(s\)\)/)
    const expected = Object.fromEntries(
      Object.entries(files).map(([path, content]) => [path, sha256(content)])
    )
    for (const h of hosts()) expect(treeDigest(h.path('threads/three'))).toEqual(expected)
    expect(results(run).map((result) => [result.host, result.status, result.uploaded])).toEqual(
      hosts().map((h) => [label(h), 'success', 3])
    )
    for (const h of hosts()) expect(hostLogLines(run, label(h)).join('\n')).toMatch(/3 uploaded/)
  })

  test('threads: 1 keeps every host on the main thread', async () => {
    const run = await runAction(
      fleetInputs(fleet, hosts().slice(0, 2), { target: 'threads/one', threads: '1' }),
      { cwd: workspace({ 'a.txt': 'a' }) }
    )
    expect(run.code, logOf(run)).toBe(0)
    expect(logOf(run)).toMatch(/, 1 thread\(s\)\)/)
  })

  test('a bad threads value is refused before any connection', async () => {
    const run = await runAction(fleetInputs(fleet, hosts(), { threads: 'many' }), {
      cwd: workspace({ 'a.txt': 'a' })
    })
    expect(run.code).toBe(1)
    expect(logOf(run)).toMatch(/Input 'threads': 'many' is not a whole number/)
  })

  test('cancelling (SIGTERM) ends every thread: each host fails as cancelled, no session is left', async () => {
    const big = pseudoRandomBytes(96 * 1024 * 1024, 22)
    let sent = false
    const run = await runAction(
      fleetInputs(fleet, hosts(), { target: 'threads/cancel', threads: '2', retries: '0' }),
      {
        cwd: workspace({ 'big.bin': big }),
        timeoutMs: 60_000,
        onSpawn: (child) => {
          // Once every host has started on the file: cancel.
          const poll = setInterval(() => {
            const started = hosts().every((h) => h.sessionPids().length > 0)
            if (!started) return
            clearInterval(poll)
            sent = child.kill('SIGTERM')
          }, 20)
          child.on('exit', () => clearInterval(poll))
        }
      }
    )
    expect(sent).toBe(true)
    expect(run.signal).toBeNull()
    expect(run.code).toBe(1)
    for (const result of results(run)) {
      expect(result.status === 'failed' || result.status === 'success').toBe(true)
      if (result.status === 'failed') expect(result.error).toMatch(/cancelled \(SIGTERM\)/)
    }
    expect(results(run).some((result) => result.status === 'failed')).toBe(true)
    // Nothing half-written at the live path on any host.
    for (const h of hosts()) {
      let landed: Buffer | undefined
      try {
        landed = readFileSync(h.path('threads/cancel/big.bin'))
      } catch {
        landed = undefined
      }
      if (landed !== undefined) expect(sha256(landed)).toBe(sha256(big))
    }
    // Every connection of every thread ended with the run.
    const deadline = Date.now() + 5000
    while (hosts().some((h) => h.sessionPids().length > 0) && Date.now() < deadline)
      await new Promise((done) => setTimeout(done, 50))
    expect(hosts().map((h) => h.sessionPids().length)).toEqual([0, 0, 0, 0])
    // And each host's deploy lock went with it.
    expect(hosts().filter((h) => existsSync(h.path('threads/cancel/.deploy.lock')))).toEqual([])
  })
})
