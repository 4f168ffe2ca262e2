// Large files: hashed on the host while they arrive (on a host that is not the runner itself),
// in the hashing shell that is already logged in, and verified whole.

import { describe, expect, test } from 'vitest'
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

const big = pseudoRandomBytes(72 * 1024 * 1024, 5)

describe('large files', () => {
  test('a large file is hashed on the host as it arrives (a slow link) and lands intact', async () => {
    const host = fleet.host(0)
    const proxy = await startProxy(host, [{ bytesPerSecond: 48 * 1024 * 1024 }])
    try {
      const run = await runAction(proxiedInputs(fleet, proxy, host, { target: 'slow' }), {
        cwd: workspace({ 'big.bin': big, 'small.txt': 'small' }),
        // The test host is the runner itself, where the action would hash after the upload.
        env: { SFD_FOLLOW_ON_THIS_MACHINE: 'true' }
      })
      expect(run.code, run.stdout).toBe(0)
      expect(run.stdout).toContain("'big.bin': hashed on the host as it arrives")
      expect(results(run)[0]).toMatchObject({ status: 'success', uploaded: 2 })
    } finally {
      await proxy.stop()
    }
    // Only the published files: no temporary left behind.
    expect(treeDigest(host.path('slow'))).toEqual({
      'big.bin': sha256(big),
      'small.txt': sha256('small')
    })
  })

  test('the idle hashing shell follows the file: no login of its own', async () => {
    const host = fleet.host(0)
    const proxy = await startProxy(host, [{ bytesPerSecond: 48 * 1024 * 1024 }])
    const logged = host.log().length
    try {
      // The large file alone: a small file's digest, asked for while the file is followed,
      // would take a hashing shell of its own.
      const run = await runAction(proxiedInputs(fleet, proxy, host, { target: 'followed' }), {
        cwd: workspace({ 'big.bin': big }),
        env: { SFD_FOLLOW_ON_THIS_MACHINE: 'true' }
      })
      expect(run.code, run.stdout).toBe(0)
      expect(run.stdout).toContain("'big.bin': hashed on the host as it arrives")
    } finally {
      await proxy.stop()
    }
    // Two logins: SFTP, and the hashing shell, which follows the file.
    const sessions = host
      .log()
      .slice(logged)
      .split('\n')
      .filter((line) => line.includes('Starting session'))
    expect(sessions).toHaveLength(2)
    expect(treeDigest(host.path('followed'))).toEqual({ 'big.bin': sha256(big) })
  })

  test('a changed large file is sent again and verified whole; an unchanged one is not', async () => {
    const host = fleet.host(0)
    const ws = workspace({ 'big.bin': big })
    const inputs = fleetInputs(fleet, [host], { target: 'again' })
    const first = await runAction(inputs, { cwd: ws })
    expect(first.code, first.stdout).toBe(0)
    // The host is this machine: its CPUs are the runner's, so the file is hashed after.
    expect(first.stdout).not.toContain('as it arrives')
    const same = await runAction(inputs, { cwd: ws })
    expect(results(same)[0]).toMatchObject({ uploaded: 0, skipped: 1, bytes: 0 })
    const changed = Buffer.from(big)
    changed.writeUInt8(0xff - changed.readUInt8(changed.length - 1), changed.length - 1)
    const next = await runAction(inputs, { cwd: workspace({ 'big.bin': changed }) })
    expect(next.code, next.stdout).toBe(0)
    expect(results(next)[0]).toMatchObject({ uploaded: 1, skipped: 0 })
    expect(treeDigest(host.path('again'))).toEqual({ 'big.bin': sha256(changed) })
  })
})
