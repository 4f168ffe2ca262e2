// Stalled connections are detected and retried; the other hosts of the run are not touched.

import { readFileSync } from 'node:fs'
import { describe, expect, test } from 'vitest'
import { pseudoRandomBytes, workspace } from '../helpers/workspace.js'
import {
  fleetInputs,
  proxiedInputs,
  results,
  runAction,
  sha256,
  treeDigest,
  type ActionRun
} from '../harness/run-action.js'
import { useFleet } from '../harness/sshd.js'
import { startProxy, type ConnectionFault, type TcpProxy } from '../harness/tcp-proxy.js'

const fleet = useFleet({ count: 3 })

const file = pseudoRandomBytes(8 * 1024 * 1024, 42)

/** Seconds the first attempt took to fail, from the host's log. */
function firstFailure(run: ActionRun): { seconds: number; line: string } {
  const line = run.stdout.split('\n').find((text) => text.includes('attempt 1 failed after')) ?? ''
  const match = /attempt 1 failed after (\d+(?:\.\d+)?)(ms|s)/.exec(line)
  const seconds = match === null ? Number.NaN : Number(match[1]) / (match[2] === 'ms' ? 1000 : 1)
  return { seconds, line }
}

async function viaProxy(index: number, faults: readonly ConnectionFault[]): Promise<TcpProxy> {
  const host = fleet.host(index)
  return startProxy(host, faults)
}

describe('stalls', () => {
  test('a connection that stops moving is aborted within idle-timeout + 5 s and retried; other hosts finish', async () => {
    const proxy = await viaProxy(0, [{ stallAfter: 2 * 1024 * 1024 }])
    try {
      const run = await runAction(
        {
          ...fleetInputs(fleet, [], {
            target: 'stall',
            'idle-timeout': '3s',
            'keepalive-interval': '60s'
          }),
          host: [`${fleet.user}@${proxy.entry}`, fleet.host(1).entry, fleet.host(2).entry].join(
            '\n'
          ),
          username: fleet.user,
          'known-hosts': `${fleet.knownHosts}\n${proxy.knownHostsFrom(fleet.host(0).knownHosts)}`
        },
        { cwd: workspace({ 'app.bin': file }) }
      )
      expect(run.code, run.stdout).toBe(0)
      const [stalled, b, c] = results(run)
      expect(stalled).toMatchObject({ status: 'success', attempts: 2 })
      expect(b).toMatchObject({ status: 'success', attempts: 1 })
      expect(c).toMatchObject({ status: 'success', attempts: 1 })
      const failure = firstFailure(run)
      expect(failure.line).toMatch(/\(timeout\).*no data from the server for \d+s/)
      expect(failure.seconds).toBeLessThanOrEqual(3 + 5)
      for (const index of [0, 1, 2])
        expect(treeDigest(fleet.host(index).path('stall'))).toEqual({ 'app.bin': sha256(file) })
    } finally {
      await proxy.stop()
    }
  })

  test('SSH keepalive ends a connection whose server stopped answering, even with a long idle-timeout', async () => {
    const proxy = await viaProxy(0, [{ stallAfter: 1024 * 1024 }])
    try {
      const run = await runAction(
        proxiedInputs(fleet, proxy, fleet.host(0), {
          target: 'keepalive',
          'idle-timeout': '5m',
          'keepalive-interval': '1s'
        }),
        { cwd: workspace({ 'app.bin': file }) }
      )
      expect(run.code, run.stdout).toBe(0)
      expect(results(run)[0]).toMatchObject({ status: 'success', attempts: 2 })
      const failure = firstFailure(run)
      expect(failure.line).toMatch(/\(timeout\).*stopped answering SSH keepalives/)
      expect(failure.seconds).toBeLessThanOrEqual(4 + 5)
    } finally {
      await proxy.stop()
    }
  })

  test('an SFTP server frozen by SIGSTOP mid-transfer is detected although sshd still answers keepalives', async () => {
    const host = fleet.host(1)
    // A slow link keeps the transfer going long enough to freeze it in the middle.
    const proxy = await viaProxy(1, [{ bytesPerSecond: 4 * 1024 * 1024 }])
    try {
      let frozen: number[] = []
      const run = await runAction(
        proxiedInputs(fleet, proxy, host, {
          target: 'sigstop',
          'idle-timeout': '3s',
          'keepalive-interval': '1s'
        }),
        {
          cwd: workspace({ 'app.bin': file }),
          onSpawn: () => {
            const poll = setInterval(() => {
              // Freeze only the SFTP server of the first connection, once its upload has begun.
              const upstream = proxy.connections[0]?.upstream ?? 0
              if (upstream < 1024 * 1024) return
              clearInterval(poll)
              const servers = host.sessionPids().filter((pid) => {
                try {
                  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('sftp-server')
                } catch {
                  return false
                }
              })
              frozen = servers
              for (const pid of servers) process.kill(pid, 'SIGSTOP')
            }, 20)
          }
        }
      )
      expect(frozen.length).toBeGreaterThan(0)
      for (const pid of frozen) process.kill(pid, 'SIGKILL')
      expect(run.code, run.stdout).toBe(0)
      expect(results(run)[0]).toMatchObject({ status: 'success', attempts: 2 })
      const failure = firstFailure(run)
      expect(failure.line).toMatch(/\(timeout\).*no data from the server/)
      expect(failure.seconds).toBeLessThanOrEqual(3 + 5)
      expect(treeDigest(host.path('sigstop'))).toEqual({ 'app.bin': sha256(file) })
    } finally {
      await proxy.stop()
    }
  })
})
