// Releases without sshd: the order a host's releases were made in (rollback, pruning), the
// release inputs, the run's votes across threads, and the two-phase switch of a fleet of fake
// hosts, where one host's switch fails after the others have switched.

import { describe, expect, test } from 'vitest'
import {
  historyLine,
  historyText,
  orderedReleases,
  parseHistory,
  releaseBefore,
  releasesToPrune
} from '../../src/deploy/releases/history.js'
import { RunBarrier } from '../../src/deploy/releases/barrier.js'
import { localBarrier } from '../../src/deploy/releases/barrier.js'
import { switchTogether, type MadeRelease } from '../../src/deploy/releases/fleet.js'
import { deployHost } from '../../src/deploy/host.js'
import { defaultReleaseName, parseSharedPaths } from '../../src/config/releases.js'
import { DeployError } from '../../src/errors.js'
import type { SftpSession, SshConnection } from '../../src/ssh/types.js'
import { fakeHost, type FakeHost } from './fakes/fake-host.js'
import { testJob, testPlan, testSettings } from './fakes/host-job.js'

describe("a host's releases, in the order they were made", () => {
  test('the record: names in order, a name recorded again counts where it was last', () => {
    const text = [
      historyLine('b', new Date(0), 'run 1'),
      'a\t2026-01-01T00:00:00.000Z\trun 2',
      '',
      'b\t2026-01-02T00:00:00.000Z\trun\t3'
    ].join('\n')
    expect(parseHistory(text)).toEqual(['a', 'b'])
    expect(historyText(text.split('\n'), ['a'])).toBe('a\t2026-01-01T00:00:00.000Z\trun 2\n')
    expect(historyText([], [])).toBe('')
    expect(historyLine('r', new Date(0), 'x\ty\nz')).toBe('r\t1970-01-01T00:00:00.000Z\tx y z')
  })

  test('order: recorded releases still there, then a current one the record lacks', () => {
    expect(orderedReleases(['a', 'gone', 'b'], new Set(['a', 'b', 'c', 'orphan']), 'c')).toEqual([
      'a',
      'b',
      'c'
    ])
    expect(orderedReleases(['a', 'b'], new Set(['a', 'b']), undefined)).toEqual(['a', 'b'])
  })

  test('rollback goes to the release made before current, not the newest other one', () => {
    expect(releaseBefore(['a', 'b', 'c'], 'b')).toBe('a')
    expect(releaseBefore(['a', 'b', 'c'], 'a')).toBeUndefined()
    expect(releaseBefore([], 'a')).toBeUndefined()
  })

  test('pruning keeps the newest n, and always current and the one before it', () => {
    const all = ['a', 'b', 'c', 'd', 'e']
    expect(releasesToPrune(all, 'e', 2)).toEqual(['a', 'b', 'c'])
    expect(releasesToPrune(all, 'e', 1)).toEqual(['a', 'b', 'c'])
    // Rolled back to b: b and a stay, whatever n says.
    expect(releasesToPrune(all, 'b', 2)).toEqual(['c'])
    expect(releasesToPrune(all, 'e', 0)).toEqual([])
  })
})

describe('the release inputs', () => {
  test('release-name: the run and its attempt, else the time in UTC', () => {
    expect(defaultReleaseName({ GITHUB_RUN_ID: '4711', GITHUB_RUN_ATTEMPT: '2' }, new Date())).toBe(
      '4711-2'
    )
    expect(defaultReleaseName({}, new Date('2026-12-05T11:20:03.123Z'))).toBe('20261205T112003Z')
    expect(testSettings({ releases: 'true', 'release-name': 'v1.2_3' }).releases?.name).toBe(
      'v1.2_3'
    )
  })

  test.each([
    [
      { releases: 'true', 'release-name': '../x' },
      /Input 'release-name': '..\/x' is not a release name/
    ],
    [{ releases: 'true', 'release-name': '.hidden' }, /Input 'release-name'/],
    [
      { releases: 'true', switch: 'sometimes' },
      /Input 'switch': 'sometimes' is not one of: together, per-host/
    ],
    [{ rollback: 'true' }, /Input 'rollback': applies to releases: set releases: true as well/],
    [{ 'keep-releases': '3' }, /Input 'keep-releases': applies to releases/],
    [{ releases: 'true', delete: 'true' }, /Input 'delete': applies to in-place deploys/],
    [
      { releases: 'true', 'shared-paths': '../etc/passwd' },
      /Input 'shared-paths': '..\/etc\/passwd' must be a path relative/
    ],
    [{ releases: 'true', 'shared-paths': 'a\na/b' }, /Input 'shared-paths': 'a\/b' and 'a' overlap/]
  ])('%o is refused before any connection', (inputs, message) => {
    expect(() => testSettings(inputs)).toThrow(message)
  })

  test('shared-paths: files and directories (trailing slash), comments skipped', () => {
    expect(parseSharedPaths('.env\n# logs\nstorage/\n./config/app.ini')).toEqual([
      { path: '.env', directory: false },
      { path: 'storage', directory: true },
      { path: 'config/app.ini', directory: false }
    ])
  })

  test('a rollback needs no source; a deploy still does', () => {
    expect(testSettings({ releases: 'true', rollback: 'true', source: '' }).patterns).toEqual([])
    expect(() => testSettings({ releases: 'true', source: '' })).toThrow(/Input 'source'/)
  })
})

describe("the run's votes", () => {
  test('every party votes before any learns the verdict; one no is a no for all', async () => {
    const barrier = new RunBarrier(3)
    let decided = false
    const first = barrier.vote('ready', true).then((ok) => {
      decided = true
      return ok
    })
    const second = barrier.vote('ready', true)
    await Promise.resolve()
    expect(decided).toBe(false)
    const last = barrier.vote('ready', false)
    expect(await first).toBe(false)
    expect(await second).toBe(false)
    expect(await last).toBe(false)
    // The next phase is tallied on its own.
    const votes = [
      barrier.vote('switched', true),
      barrier.vote('switched', true),
      barrier.vote('switched', true)
    ]
    expect(await Promise.all(votes)).toEqual([true, true, true])
  })

  test('a run on one thread decides alone', async () => {
    expect(await localBarrier.vote('ready', true)).toBe(true)
    expect(await localBarrier.vote('ready', false)).toBe(false)
  })
})

/** Wraps the SFTP sessions of `host`'s connections: `posixRename` as `rename` says. */
function withRename(
  host: FakeHost,
  rename: (sftp: SftpSession, from: string, to: string) => Promise<void>
): void {
  const connect = host.connect.bind(host)
  host.connect = async (signal): Promise<SshConnection> => {
    const connection = await connect(signal)
    return {
      ...connection,
      sftp: async () => {
        const sftp = await connection.sftp()
        return { ...sftp, posixRename: (from, to) => rename(sftp, from, to) }
      }
    }
  }
}

/** A fake host whose `current` cannot be switched (its rename fails) once `failing` is set. */
function hostWithFailingSwitch(): { host: FakeHost; failing: { on: boolean } } {
  const host = fakeHost()
  const failing = { on: false }
  withRename(host, (sftp, from, to) =>
    failing.on && to.endsWith('/current')
      ? Promise.reject(new DeployError('permission', `rename ${from}: Permission denied`))
      : sftp.posixRename(from, to)
  )
  return { host, failing }
}

describe('switch together, on fake hosts', () => {
  async function release(hosts: readonly FakeHost[], name: string, content: string) {
    const { settings, plan } = await testPlan(
      { 'index.html': content, 'app.js': 'same' },
      { releases: 'true', 'release-name': name, host: 'a.example, b.example, c.example' }
    )
    const made: MadeRelease[] = []
    const logs: string[][] = []
    for (const [index, host] of hosts.entries()) {
      const { job, lines } = testJob(host, settings, plan, index)
      made.push({ job, result: await deployHost(job, new AbortController().signal) })
      logs.push(lines)
    }
    const results = await switchTogether(made, localBarrier, new AbortController().signal)
    return { results, logs }
  }
  const current = (host: FakeHost): string | undefined => {
    const node = host.nodes.get('/home/u/site/current')
    return node?.kind === 'link' ? node.target : undefined
  }

  test('a switch that fails on one host after the others switched switches them back: held', async () => {
    const fleet = [hostWithFailingSwitch(), hostWithFailingSwitch(), hostWithFailingSwitch()]
    const hosts = fleet.map((entry) => entry.host)
    const first = await release(hosts, 'one', 'v1')
    expect(first.results.map((result) => result.status)).toEqual(['success', 'success', 'success'])
    expect(hosts.map(current)).toEqual(['releases/one', 'releases/one', 'releases/one'])

    const failing = fleet[2]
    if (failing === undefined) throw new Error('no third host')
    failing.failing.on = true
    const second = await release(hosts, 'two', 'v2')
    expect(second.results.map((result) => result.status)).toEqual(['held', 'held', 'failed'])
    expect(second.results[2]).toMatchObject({ errorClass: 'permission', switched: false })
    expect(second.results[0]).toMatchObject({
      switched: false,
      release: 'two',
      previousRelease: 'one'
    })
    expect(second.results[0]?.error).toMatch(
      /switched back because another host of the run failed to switch/
    )
    expect(second.logs[0]).toContainEqual('switched /home/u/site/current: one → two')
    expect(second.logs[0]).toContainEqual('switched back: current is one')
    // Every host on its old release, the new one removed, no lock left.
    expect(hosts.map(current)).toEqual(['releases/one', 'releases/one', 'releases/one'])
    for (const host of hosts) {
      expect(host.files().filter((path) => path.includes('/releases/two/'))).toEqual([])
      expect(host.nodes.has('/home/u/site/.deploy.lock')).toBe(false)
      expect(host.file('/home/u/site/releases/one/index.html')?.toString()).toBe('v1')
    }
  })
})

describe('one target, two entries of one run', () => {
  test('the second is refused at once, not left waiting for a lock held until the switch', async () => {
    const host = fakeHost()
    const { settings, plan } = await testPlan(
      { 'v.txt': 'v' },
      { releases: 'true', 'release-name': 'r1', host: 'a.example, b.example' }
    )
    const first = testJob(host, settings, plan, 0)
    const second = testJob(host, settings, plan, 1)
    const signal = new AbortController().signal
    expect(await deployHost(first.job, signal)).toMatchObject({ status: 'success' })
    const refused = await deployHost(second.job, signal)
    expect(refused).toMatchObject({ status: 'failed', errorClass: 'release', attempts: 1 })
    expect(refused.error).toMatch(
      /another host entry of this run deploys a release to the same target/
    )
    // The first entry's release and lock are untouched.
    expect(host.file('/home/u/site/releases/r1/v.txt')?.toString()).toBe('v')
    expect(host.nodes.has('/home/u/site/.deploy.lock')).toBe(true)
  })
})

describe('a switch whose answer is lost', () => {
  test('current points to the new release all the same: switched, the release kept', async () => {
    const host = fakeHost()
    const { settings, plan } = await testPlan(
      { 'v.txt': 'v' },
      { releases: 'true', 'release-name': 'r1', retries: '0' }
    )
    const { job, lines } = testJob(host, settings, plan)
    // The rename over `current` happens, then the connection ends before its answer.
    withRename(host, async (sftp, from, to) => {
      await sftp.posixRename(from, to)
      if (to.endsWith('/current')) throw new DeployError('connection-lost', 'the connection ended')
    })
    const signal = new AbortController().signal
    const made: MadeRelease = { job, result: await deployHost(job, signal) }
    const [result] = await switchTogether([made], localBarrier, signal)
    expect(result).toMatchObject({ status: 'success', switched: true })
    expect(lines).toContainEqual('warning: the connection ended; current points to r1 all the same')
    expect(host.file('/home/u/site/releases/r1/v.txt')?.toString()).toBe('v')
  })
})

describe('a cancel while a release is made, without a lock', () => {
  test('the unswitched release is removed all the same', async () => {
    const host = fakeHost()
    const { settings, plan } = await testPlan(
      { 'v.txt': 'v' },
      { releases: 'true', 'release-name': 'r1', lock: 'false' }
    )
    const { job } = testJob(host, settings, plan)
    const controller = new AbortController()
    host.onWrite = (path) => {
      if (path.includes('/releases/r1/'))
        controller.abort(new DeployError('aborted', 'the run was cancelled (SIGTERM)'))
      return undefined
    }
    const result = await deployHost(job, controller.signal)
    expect(result.status).toBe('failed')
    expect([...host.nodes.keys()].filter((path) => path.includes('/releases/r1'))).toEqual([])
  })
})
