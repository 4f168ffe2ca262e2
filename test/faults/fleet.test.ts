// Ten faulty hosts among thirty: the twenty healthy ones get every file, and each faulty one
// fails alone, reporting the class of its own fault.

import { symlinkSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { sshKeygen } from '../helpers/keys.js'
import { pseudoRandomBytes, workspace } from '../helpers/workspace.js'
import { results, runAction, sha256, treeDigest } from '../harness/run-action.js'
import { startSilentListener, type SilentListener } from '../harness/ssh2-server.js'
import { startFleet, type Fleet } from '../harness/sshd.js'
import { startProxy, type TcpProxy } from '../harness/tcp-proxy.js'

let fleet: Fleet
const proxies: TcpProxy[] = []
let silent: SilentListener

// Host index → the fault it is given and the error classes it may report.
const FAULTS: Record<number, { fault: string; classes: string[] }> = {
  2: { fault: 'sshd stopped', classes: ['network'] },
  5: { fault: 'never answers', classes: ['timeout'] },
  8: { fault: 'unknown host key', classes: ['host-key'] },
  11: { fault: 'key not authorized', classes: ['auth'] },
  14: { fault: 'read-only server', classes: ['permission'] },
  17: { fault: 'disk full', classes: ['disk-full', 'remote-failure'] },
  20: { fault: 'stalls', classes: ['timeout'] },
  23: { fault: 'resets every connection', classes: ['network', 'connection-lost'] },
  26: { fault: 'target below a dangling link', classes: ['no-such-path'] },
  29: { fault: 'no atomic rename', classes: ['protocol'] }
}

beforeAll(async () => {
  fleet = await startFleet({
    count: 30,
    host: (index) => (index === 11 ? { config: ['AuthorizedKeysFile /dev/null'] } : {})
  })
  silent = await startSilentListener('127.0.0.1')
}, 120_000)

afterAll(async () => {
  await Promise.all(proxies.map((proxy) => proxy.stop()))
  await silent.stop()
  await fleet.stop()
})

describe('a fleet of 30 with 10 faulty hosts', () => {
  test('20 healthy hosts succeed; each faulty host reports its own error class', async () => {
    const files = {
      'site/index.html': '<h1>fleet</h1>',
      'site/app.bin': pseudoRandomBytes(1024 * 1024, 30)
    }
    const entries: string[] = []
    const known: string[] = []
    for (const host of fleet.hosts) {
      const index = fleet.hosts.indexOf(host)
      let entry = host.entry
      let knownHosts = host.knownHosts
      switch (index) {
        case 2:
          await host.stop()
          break
        case 5:
          entry = silent.entry
          knownHosts = silent.knownHosts
          break
        case 8:
          knownHosts = `[${host.address}]:${host.port} ${sshKeygen('ed25519').publicKey.split(' ').slice(0, 2).join(' ')}`
          break
        case 14:
          host.setSftpServerFlags(['-R'])
          break
        case 17:
          // The deploy needs 1 MiB; a tmpfs of 256 KiB (or a 256 KiB file size limit) is short.
          host.limitedDirectory('site', 256)
          break
        case 20:
        case 23: {
          const proxy = await startProxy(
            host,
            Array.from({ length: 10 }, () =>
              index === 20 ? { stallAfter: 64 * 1024 } : { resetAfter: 64 * 1024 }
            )
          )
          proxies.push(proxy)
          entry = proxy.entry
          knownHosts = proxy.knownHostsFrom(host.knownHosts)
          break
        }
        case 26:
          symlinkSync(host.path('nowhere'), host.path('site'))
          break
        case 29:
          host.setSftpServerFlags(['-P', 'posix-rename'])
          break
      }
      entries.push(entry)
      known.push(knownHosts)
    }

    const run = await runAction(
      {
        host: entries.join('\n'),
        username: fleet.user,
        key: fleet.keys.ed25519,
        'known-hosts': known.join('\n'),
        source: 'site/**',
        target: 'site',
        'strip-components': '1',
        'max-parallel': '10',
        retries: '1',
        'retry-delay': '100ms',
        'connect-timeout': '5s',
        'idle-timeout': '5s'
      },
      { cwd: workspace(files), timeoutMs: 110_000 }
    )
    expect(run.code).toBe(1)
    const all = results(run)
    expect(all).toHaveLength(30)
    expect(run.outputs['succeeded-count']).toBe('20')
    expect(run.outputs['failed-count']).toBe('10')

    const expected = {
      'index.html': sha256(files['site/index.html']),
      'app.bin': sha256(files['site/app.bin'])
    }
    all.forEach((result, index) => {
      const fault = FAULTS[index]
      if (fault === undefined) {
        expect(result, `host ${index}`).toMatchObject({
          status: 'success',
          uploaded: 2,
          attempts: 1
        })
        expect(treeDigest(fleet.host(index).path('site'))).toEqual(expected)
      } else {
        expect(result.status, `host ${index} (${fault.fault})`).toBe('failed')
        expect(fault.classes, `host ${index} (${fault.fault}): ${result.error ?? ''}`).toContain(
          result.errorClass
        )
      }
    })
    const annotations = run.stdout.split('\n').filter((line) => line.startsWith('::error'))
    expect(annotations).toHaveLength(10)
  }, 120_000)
})
