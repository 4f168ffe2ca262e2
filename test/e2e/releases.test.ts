// Releases against real OpenSSH servers, as the runner runs the action: each run fills
// `<target>/releases/<name>/`, links what is unchanged from the current release, switches
// `current` with one rename; keep-releases prunes, rollback goes back, and with `switch:
// together` a host that fails holds the others on their old release.

import { existsSync, lstatSync, readFileSync, statSync } from 'node:fs'
import { describe, expect, test } from 'vitest'
import { pseudoRandomBytes, workspace } from '../helpers/workspace.js'
import {
  fleetInputs,
  logOf,
  results,
  runAction,
  sha256,
  treeDigest,
  type ActionRun
} from '../harness/run-action.js'
import { startSilentListener } from '../harness/ssh2-server.js'
import { currentOf, deployRelease, releasesOn } from '../harness/releases.js'
import { snapshotWithRoot } from '../harness/host-tree.js'
import { useFleet, type TestHost } from '../harness/sshd.js'

const fleet = useFleet({ count: 3 })
const host = (index: number): TestHost => fleet.host(index)

const deploy = (
  hosts: readonly TestHost[],
  files: Record<string, string | Buffer>,
  extra: Record<string, string>
): Promise<ActionRun> => deployRelease(fleet, hosts, files, extra)

/** A rollback of `root` on one host. */
function rollBack(h: TestHost, root: string, extra: Record<string, string> = {}) {
  return runAction(
    fleetInputs(fleet, [h], {
      releases: 'true',
      rollback: 'true',
      target: root,
      source: '',
      ...extra
    }),
    { cwd: workspace({}) }
  )
}

describe('releases', () => {
  test('first and second release: unchanged files hard-linked, one changed file sent, current switched', async () => {
    const h = host(0)
    const big = pseudoRandomBytes(256 * 1024, 7)
    const v1 = { 'index.html': 'v1', 'app.js': big, 'css/site.css': 'body{}' }
    const first = await deploy([h], v1, { target: 'rel/basic', 'release-name': 'r1' })
    expect(first.code, logOf(first)).toBe(0)
    expect(currentOf(h, 'rel/basic')).toBe('releases/r1')
    expect(treeDigest(h.path('rel/basic/current/'))).toEqual({
      'index.html': sha256('v1'),
      'app.js': sha256(big),
      'css/site.css': sha256('body{}')
    })
    expect(results(first)[0]).toMatchObject({
      status: 'success',
      release: 'r1',
      previousRelease: null,
      switched: true,
      uploaded: 3
    })
    expect(first.outputs.release).toBe('r1')

    const second = await deploy(
      [h],
      { ...v1, 'index.html': 'v2' },
      {
        target: 'rel/basic',
        'release-name': 'r2'
      }
    )
    expect(second.code, logOf(second)).toBe(0)
    expect(results(second)[0]).toMatchObject({
      status: 'success',
      release: 'r2',
      previousRelease: 'r1',
      switched: true,
      uploaded: 1,
      skipped: 2,
      bytes: 2
    })
    expect(currentOf(h, 'rel/basic')).toBe('releases/r2')
    const inode = (path: string): number => statSync(h.path(path)).ino
    expect(inode('rel/basic/releases/r2/app.js')).toBe(inode('rel/basic/releases/r1/app.js'))
    expect(inode('rel/basic/releases/r2/index.html')).not.toBe(
      inode('rel/basic/releases/r1/index.html')
    )
    expect(readFileSync(h.path('rel/basic/releases/r1/index.html'), 'utf8')).toBe('v1')
    expect(readFileSync(h.path('rel/basic/current/index.html'), 'utf8')).toBe('v2')
    expect(second.summary).toContain('r1 → r2')
    expect(lstatSync(h.path('rel/basic/current')).isSymbolicLink()).toBe(true)
  })

  test('keep-releases prunes the oldest; rollback goes back and removes the release rolled back from', async () => {
    const h = host(1)
    for (const name of ['a', 'b', 'c', 'd']) {
      const run = await deploy(
        [h],
        { 'v.txt': name },
        {
          target: 'rel/keep',
          'release-name': name,
          'keep-releases': '2'
        }
      )
      expect(run.code, logOf(run)).toBe(0)
    }
    expect(releasesOn(h, 'rel/keep')).toEqual(['c', 'd'])
    // Planned first: where current would go, and what would be removed; nothing moves.
    const planned = await rollBack(h, 'rel/keep', { 'dry-run': 'true' })
    expect(planned.code, logOf(planned)).toBe(0)
    expect(results(planned)[0]).toMatchObject({
      status: 'planned',
      planned: { upload: 0, release: 'c', prune: ['d'] }
    })
    expect(planned.summary).toContain('current → c, then d removed')
    expect(currentOf(h, 'rel/keep')).toBe('releases/d')
    const back = await rollBack(h, 'rel/keep')
    expect(back.code, logOf(back)).toBe(0)
    expect(results(back)[0]).toMatchObject({
      status: 'success',
      release: 'c',
      previousRelease: 'd',
      switched: true
    })
    expect(currentOf(h, 'rel/keep')).toBe('releases/c')
    expect(readFileSync(h.path('rel/keep/current/v.txt'), 'utf8')).toBe('c')
    expect(releasesOn(h, 'rel/keep')).toEqual(['c'])
    // The record keeps the line of the release gone back to.
    expect(readFileSync(h.path('rel/keep/releases.log'), 'utf8')).toMatch(/^c\t\d{4}-/)
    // Nothing before c: the next rollback fails and moves nothing.
    const none = await rollBack(h, 'rel/keep')
    expect(none.code).toBe(1)
    expect(results(none)[0]).toMatchObject({ status: 'failed', errorClass: 'release' })
    expect(results(none)[0]?.error).toMatch(/no release before c/)
    expect(currentOf(h, 'rel/keep')).toBe('releases/c')
    expect(existsSync(h.path('rel/keep/.deploy.lock'))).toBe(false)
  })

  test('switch together: one host of three fails, no host switches, the others are held', async () => {
    const hosts = [host(0), host(1), host(2)]
    const v1 = await deploy(hosts, { 'v.txt': 'one' }, { target: 'rel/two', 'release-name': 'one' })
    expect(v1.code, logOf(v1)).toBe(0)
    host(2).setSftpServerFlags(['-R'])
    let run
    try {
      run = await deploy(hosts, { 'v.txt': 'two' }, { target: 'rel/two', 'release-name': 'two' })
    } finally {
      host(2).setSftpServerFlags([])
    }
    expect(run.code, logOf(run)).toBe(1)
    const [a, b, c] = results(run)
    expect(a).toMatchObject({
      status: 'held',
      switched: false,
      release: 'two',
      previousRelease: 'one'
    })
    expect(b).toMatchObject({ status: 'held', switched: false })
    expect(c).toMatchObject({ status: 'failed', errorClass: 'permission' })
    expect(JSON.parse(run.outputs['held-hosts'] ?? '[]')).toEqual(
      [hosts[0]?.entry, hosts[1]?.entry].map((entry) => `${fleet.user}@${entry}`)
    )
    for (const h of hosts) {
      expect(currentOf(h, 'rel/two')).toBe('releases/one')
      expect(releasesOn(h, 'rel/two')).toEqual(['one'])
    }

    host(2).setSftpServerFlags(['-R'])
    let perHost
    try {
      perHost = await deploy(
        hosts,
        { 'v.txt': 'three' },
        {
          target: 'rel/two',
          'release-name': 'three',
          switch: 'per-host'
        }
      )
    } finally {
      host(2).setSftpServerFlags([])
    }
    expect(perHost.code).toBe(1)
    expect(results(perHost).map((result) => result.status)).toEqual([
      'success',
      'success',
      'failed'
    ])
    expect(currentOf(host(0), 'rel/two')).toBe('releases/three')
    expect(currentOf(host(1), 'rel/two')).toBe('releases/three')
    expect(currentOf(host(2), 'rel/two')).toBe('releases/one')
  })

  test('dry-run: the release it would make, what it would link and prune; nothing written', async () => {
    const h = host(2)
    for (const name of ['p1', 'p2']) {
      const run = await deploy(
        [h],
        { 'a.txt': 'same', 'b.txt': name },
        {
          target: 'rel/plan',
          'release-name': name,
          'keep-releases': '2'
        }
      )
      expect(run.code, logOf(run)).toBe(0)
    }
    const before = snapshotWithRoot(h.path('rel/plan'))
    const plan = await deploy(
      [h],
      { 'a.txt': 'same', 'b.txt': 'p3' },
      {
        target: 'rel/plan',
        'release-name': 'p3',
        'keep-releases': '2',
        'dry-run': 'true'
      }
    )
    expect(plan.code, logOf(plan)).toBe(0)
    expect(results(plan)[0]).toMatchObject({
      status: 'planned',
      planned: { upload: 1, unchanged: 1, delete: 0, release: 'p3', prune: ['p1'] }
    })
    expect(logOf(plan)).toContain(
      'plan: release p3 would be made, unchanged files linked from p2; then current switched to it, and p1 pruned'
    )
    expect(plan.summary).toContain('1 to send, 1 unchanged; current → p3, then p1 removed')
    // Byte for byte and mtime for mtime, the target's own included: no lock, no temporary.
    expect(snapshotWithRoot(h.path('rel/plan'))).toEqual(before)
    expect(currentOf(h, 'rel/plan')).toBe('releases/p2')
  })

  test('cancelled (SIGTERM) while another host is not ready: no switch, the release and the lock removed', async () => {
    const h = host(0)
    const one = await deploy([h], { 'v.txt': 'one' }, { target: 'rel/term', 'release-name': 'one' })
    expect(one.code, logOf(one)).toBe(0)
    const silent = await startSilentListener('127.0.0.1')
    try {
      const run = await runAction(
        fleetInputs(fleet, [h], {
          releases: 'true',
          'release-name': 'two',
          target: 'rel/term',
          host: `${h.entry}\n${silent.entry}`,
          'known-hosts': `${fleet.knownHosts}\n${silent.knownHosts}`,
          'connect-timeout': '60s'
        }),
        {
          cwd: workspace({ 'v.txt': 'two' }),
          timeoutMs: 30_000,
          // Once the ready host's release is in (it then waits for the silent one).
          onSpawn: (child) => {
            const poll = setInterval(() => {
              if (!existsSync(h.path('rel/term/releases/two/v.txt'))) return
              clearInterval(poll)
              setTimeout(() => child.kill('SIGTERM'), 300)
            }, 50)
            child.on('close', () => clearInterval(poll))
          }
        }
      )
      expect(run.signal).toBeNull()
      expect(run.code).toBe(1)
      const [ready, cancelled] = results(run)
      expect(ready, logOf(run)).toMatchObject({ status: 'held', switched: false, release: 'two' })
      expect(cancelled?.error).toMatch(/cancelled \(SIGTERM\)/)
    } finally {
      await silent.stop()
    }
    expect(currentOf(h, 'rel/term')).toBe('releases/one')
    expect(releasesOn(h, 'rel/term')).toEqual(['one'])
    expect(existsSync(h.path('rel/term/.deploy.lock'))).toBe(false)
  })

  test('a server that refuses hardlink@openssh.com: unchanged files linked by ln in the shell', async () => {
    const h = host(1)
    const files = { 'a.txt': 'same', 'b/c.txt': 'same too', 'd.txt': 'v1' }
    const first = await deploy([h], files, { target: 'rel/ln', 'release-name': 'r1' })
    expect(first.code, logOf(first)).toBe(0)
    h.setSftpServerFlags(['-P', 'hardlink'])
    let second
    try {
      second = await deploy(
        [h],
        { ...files, 'd.txt': 'v2' },
        {
          target: 'rel/ln',
          'release-name': 'r2'
        }
      )
    } finally {
      h.setSftpServerFlags([])
    }
    expect(second.code, logOf(second)).toBe(0)
    expect(results(second)[0]).toMatchObject({ uploaded: 1, skipped: 2, bytes: 2 })
    expect(logOf(second)).toContain('2 by ln in the shell')
    const inode = (path: string): number => statSync(h.path(path)).ino
    expect(inode('rel/ln/releases/r2/b/c.txt')).toBe(inode('rel/ln/releases/r1/b/c.txt'))
    expect(treeDigest(h.path('rel/ln/current/'))).toEqual({
      'a.txt': sha256('same'),
      'b/c.txt': sha256('same too'),
      'd.txt': sha256('v2')
    })
  })

  test('rollback together: a host with no earlier release fails, and no host moves', async () => {
    const [a, b] = [host(0), host(1)]
    for (const name of ['x1', 'x2']) {
      const run = await deploy([a], { 'v.txt': name }, { target: 'rel/rb', 'release-name': name })
      expect(run.code, logOf(run)).toBe(0)
    }
    const only = await deploy([b], { 'v.txt': 'x1' }, { target: 'rel/rb', 'release-name': 'x1' })
    expect(only.code, logOf(only)).toBe(0)
    const back = await runAction(
      fleetInputs(fleet, [a, b], {
        releases: 'true',
        rollback: 'true',
        target: 'rel/rb',
        source: ''
      }),
      { cwd: workspace({}) }
    )
    expect(back.code, logOf(back)).toBe(1)
    expect(results(back).map((result) => result.status)).toEqual(['held', 'failed'])
    expect(results(back)[1]).toMatchObject({ errorClass: 'release' })
    expect(currentOf(a, 'rel/rb')).toBe('releases/x2')
    expect(releasesOn(a, 'rel/rb')).toEqual(['x1', 'x2'])
    for (const h of [a, b]) expect(existsSync(h.path('rel/rb/.deploy.lock'))).toBe(false)
  })

  test('many unchanged files: linked in bulk by the shell, every one sharing its inode', async () => {
    const h = host(2)
    const files: Record<string, string> = {}
    for (let index = 0; index < 150; index += 1)
      files[`d${index % 7}/sub ${index % 3}/f${index}.txt`] = `file ${index}`
    const first = await deploy([h], files, { target: 'rel/bulk', 'release-name': 'b1' })
    expect(first.code, logOf(first)).toBe(0)
    const second = await deploy(
      [h],
      { ...files, 'd0/sub 0/f0.txt': 'changed' },
      {
        target: 'rel/bulk',
        'release-name': 'b2'
      }
    )
    expect(second.code, logOf(second)).toBe(0)
    expect(results(second)[0]).toMatchObject({ uploaded: 1, skipped: 149 })
    expect(logOf(second)).toMatch(
      /149 unchanged file\(s\) hard-linked from release b1 \(cp -l in the shell;/
    )
    const inode = (path: string): number => statSync(h.path(path)).ino
    for (const path of Object.keys(files).filter((path) => path !== 'd0/sub 0/f0.txt'))
      expect(inode(`rel/bulk/releases/b2/${path}`)).toBe(inode(`rel/bulk/releases/b1/${path}`))
    expect(readFileSync(h.path('rel/bulk/current/d0/sub 0/f0.txt'), 'utf8')).toBe('changed')
    expect(readFileSync(h.path('rel/bulk/releases/b1/d0/sub 0/f0.txt'), 'utf8')).toBe('file 0')
  })
})
