// The deploy lock against real OpenSSH servers, as the runner runs the action: taken before
// anything is written and removed at the end (after a failure too), a lock another run holds
// fails the host as `locked` (or is waited for), two runs against one target never interleave,
// and neither `delete` nor `dry-run` touches another run's lock.

import { existsSync, readFileSync, rmSync } from 'node:fs'
import { describe, expect, test } from 'vitest'
import { pseudoRandomBytes, workspace } from '../helpers/workspace.js'
import { plant, snapshot } from '../harness/host-tree.js'
import {
  fleetInputs,
  logOf,
  proxiedInputs,
  results,
  runAction,
  sha256,
  treeDigest
} from '../harness/run-action.js'
import { useFleet, type TestHost } from '../harness/sshd.js'
import { startProxy } from '../harness/tcp-proxy.js'

const fleet = useFleet({ count: 3 })
const host = (index: number): TestHost => fleet.host(index)
const LOCK = '.deploy.lock'

/** A lock left by another run, `minutesAgo` minutes ago. */
function foreignLock(minutesAgo: number): string {
  return `${JSON.stringify({
    holder: "octo/site workflow 'deploy' run 41 attempt 1",
    token: 'feedfacefeedface-0',
    run: 'feedfacefeedface',
    since: new Date(Date.now() - minutesAgo * 60_000).toISOString()
  })}\n`
}

describe('the deploy lock', () => {
  test('a deploy leaves no lock behind; another run holding it fails that host as locked, nothing written', async () => {
    const [free, locked] = [host(0), host(1)]
    plant(locked.path('lock/held'), { 'index.html': 'old', [LOCK]: foreignLock(5) })
    const before = snapshot(locked.path('lock/held'))
    const run = await runAction(
      fleetInputs(fleet, [free, locked], { target: 'lock/held', retries: '2' }),
      { cwd: workspace({ 'index.html': 'new' }) }
    )
    expect(run.code, logOf(run)).toBe(1)
    const [ok, refused] = results(run)
    expect(ok).toMatchObject({ status: 'success', uploaded: 1 })
    expect(existsSync(free.path(`lock/held/${LOCK}`))).toBe(false)
    expect(refused).toMatchObject({ status: 'failed', errorClass: 'locked', attempts: 1 })
    const path = `${locked.home}/lock/held/${LOCK}`
    expect(refused?.error).toMatch(
      /the target is locked by octo\/site workflow 'deploy' run 41 attempt 1, taken 5m\d*s? ago/
    )
    expect(refused?.error).toContain(`remove the lock on the host (rm '${path}')`)
    expect(snapshot(locked.path('lock/held'))).toEqual(before)
  })

  test('lock-wait: a lock removed while the host waits is then taken', async () => {
    const h = host(2)
    plant(h.path('lock/wait'), { [LOCK]: foreignLock(0) })
    // The holder ends: its lock goes.
    const release = setTimeout(() => rmSync(h.path(`lock/wait/${LOCK}`)), 1500)
    const run = await runAction(
      fleetInputs(fleet, [h], { target: 'lock/wait', 'lock-wait': '20s' }),
      { cwd: workspace({ 'a.txt': 'a' }) }
    )
    clearTimeout(release)
    expect(run.code, logOf(run)).toBe(0)
    expect(logOf(run)).toMatch(/waiting up to 20\.0s for the lock held by octo\/site/)
    expect(logOf(run)).toContain('took the lock')
    expect(treeDigest(h.path('lock/wait'))).toEqual({ 'a.txt': sha256('a') })
  })

  test('two runs against one target never interleave: the second fails as locked, or waits its turn', async () => {
    const h = host(0)
    const proxy = await startProxy(h, [
      { bytesPerSecond: 4 * 1024 * 1024 },
      { bytesPerSecond: 4 * 1024 * 1024 },
      { bytesPerSecond: 4 * 1024 * 1024 }
    ])
    try {
      const first = pseudoRandomBytes(8 * 1024 * 1024, 31)
      const inputs = (extra: Record<string, string>): Record<string, string> => ({
        ...proxiedInputs(fleet, proxy, h, { target: 'lock/race', retries: '0' }),
        ...extra
      })
      // The second run starts once the first holds the lock.
      const firstRun = runAction(inputs({}), {
        cwd: workspace({ 'big.bin': first }),
        env: { GITHUB_RUN_ID: '1001', GITHUB_REPOSITORY: 'octo/site', GITHUB_WORKFLOW: 'first' }
      })
      for (let tries = 0; tries < 400 && !existsSync(h.path(`lock/race/${LOCK}`)); tries++)
        await new Promise((done) => setTimeout(done, 10))
      expect(existsSync(h.path(`lock/race/${LOCK}`))).toBe(true)
      const refused = await runAction(inputs({}), {
        cwd: workspace({ 'big.bin': 'second' }),
        env: { GITHUB_RUN_ID: '1002' }
      })
      expect(results(refused)[0]).toMatchObject({ status: 'failed', errorClass: 'locked' })
      expect(results(refused)[0]?.error).toMatch(/locked by octo\/site workflow 'first' run 1001/)
      const waited = await runAction(inputs({ 'lock-wait': '60s' }), {
        cwd: workspace({ 'big.bin': 'third' }),
        env: { GITHUB_RUN_ID: '1003' }
      })
      const firstDone = await firstRun
      expect(firstDone.code, logOf(firstDone)).toBe(0)
      expect(waited.code, logOf(waited)).toBe(0)
      expect(logOf(waited)).toMatch(/waiting up to 1m.* for the lock held by octo\/site/)
      // The one that waited wrote last, whole.
      expect(readFileSync(h.path('lock/race/big.bin'), 'utf8')).toBe('third')
      expect(existsSync(h.path(`lock/race/${LOCK}`))).toBe(false)
    } finally {
      await proxy.stop()
    }
  })

  test('a run that waited reads the target again: what the holder changed meanwhile is sent', async () => {
    const h = host(1)
    plant(h.path('lock/reread'), { 'y.txt': 'v1' })
    const proxy = await startProxy(h, [{ bytesPerSecond: 1024 * 1024 }])
    try {
      // The holder changes y.txt while the other run waits for the lock.
      const holder = runAction(
        {
          ...proxiedInputs(fleet, proxy, h, { target: 'lock/reread', retries: '0' }),
          source: '**'
        },
        {
          // y.txt is published last: while it is sent, the host's copy is still v1.
          cwd: workspace({ 'y.txt': pseudoRandomBytes(4 * 1024 * 1024, 32) }),
          env: { GITHUB_RUN_ID: '2001' }
        }
      )
      for (let tries = 0; tries < 400 && !existsSync(h.path(`lock/reread/${LOCK}`)); tries++)
        await new Promise((done) => setTimeout(done, 10))
      const small: Record<string, string> = { 'y.txt': 'v1' }
      for (let i = 0; i < 20; i += 1) small[`s/${i}.txt`] = `small ${i}`
      const waiter = await runAction(
        fleetInputs(fleet, [h], { target: 'lock/reread', 'lock-wait': '60s' }),
        { cwd: workspace(small), env: { GITHUB_RUN_ID: '2002' } }
      )
      expect((await holder).code).toBe(0)
      expect(waiter.code, logOf(waiter)).toBe(0)
      expect(logOf(waiter)).toContain('took the lock')
      // y.txt changed while the waiter waited: the waiter, whose y.txt is v1, sent it again.
      expect(readFileSync(h.path('lock/reread/y.txt'), 'utf8')).toBe('v1')
      expect(results(waiter)[0]).toMatchObject({ status: 'success', uploaded: 21 })
    } finally {
      await proxy.stop()
    }
  })

  test('a failed host removes its lock', async () => {
    const h = host(1)
    // A directory where a file is to go: the host fails, for good.
    plant(h.path('lock/fails'), { 'page/keep.txt': 'x' })
    const run = await runAction(fleetInputs(fleet, [h], { target: 'lock/fails' }), {
      cwd: workspace({ page: 'a file' })
    })
    expect(run.code).toBe(1)
    expect(results(run)[0]?.status).toBe('failed')
    expect(results(run)[0]?.errorClass).not.toBe('locked')
    expect(existsSync(h.path(`lock/fails/${LOCK}`))).toBe(false)
  })

  test("lock: false ignores another run's lock; delete and dry-run leave it where it is", async () => {
    const h = host(2)
    const held = foreignLock(1)
    plant(h.path('lock/off'), { [LOCK]: held, 'stale.txt': 'stale' })
    const planned = await runAction(
      fleetInputs(fleet, [h], { target: 'lock/off', 'dry-run': 'true', delete: 'true' }),
      { cwd: workspace({ 'a.txt': 'a' }) }
    )
    expect(planned.code, logOf(planned)).toBe(0)
    expect(results(planned)[0]).toMatchObject({ status: 'planned', planned: { delete: 1 } })
    const run = await runAction(
      fleetInputs(fleet, [h], { target: 'lock/off', lock: 'false', delete: 'true' }),
      { cwd: workspace({ 'a.txt': 'a' }) }
    )
    expect(run.code, logOf(run)).toBe(0)
    expect(results(run)[0]).toMatchObject({ status: 'success', deleted: 1 })
    expect(readFileSync(h.path(`lock/off/${LOCK}`), 'utf8')).toBe(held)
    expect(treeDigest(h.path('lock/off'))).toEqual({ 'a.txt': sha256('a'), [LOCK]: sha256(held) })
  })
})
