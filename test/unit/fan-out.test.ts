// The fan-out across hosts, with hosts of a test's making (the `deployHost` seam) or fake hosts
// behind the real engine (the `connect` seam): parallelism, order, failed and skipped hosts.

import { describe, expect, test } from 'vitest'
import type { HostResult } from '../../src/deploy/result.js'
import { fanOut, type FanOutOptions, type LogLine } from '../../src/deploy/fan-out.js'
import type { HostJob } from '../../src/deploy/types.js'
import { DeployError } from '../../src/errors.js'
import { createLocalHasher } from '../../src/local/digests.js'
import { fakeHost, type FakeHost } from './fakes/fake-host.js'
import { testPlan } from './fakes/host-job.js'

async function options(
  hosts: string,
  inputs: Parameters<typeof testPlan>[1],
  rest: Partial<FanOutOptions> = {}
): Promise<{ options: FanOutOptions; done: { result: HostResult; log: readonly LogLine[] }[] }> {
  const { settings, plan } = await testPlan({ 'a.txt': 'a' }, { host: hosts, ...inputs })
  const done: { result: HostResult; log: readonly LogLine[] }[] = []
  return {
    done,
    options: {
      settings,
      plan,
      localHasher: createLocalHasher(),
      signal: new AbortController().signal,
      progressIntervalMs: 60_000,
      followOnThisMachine: false,
      reporter: {
        progress: () => undefined,
        hostDone: (result, log) => done.push({ result, log })
      },
      ...rest
    }
  }
}

/** A host that succeeds after a few turns of the event loop. */
function succeeds(job: HostJob): HostResult {
  return {
    host: job.host.label,
    status: 'success',
    files: job.plan.files.length,
    uploaded: 1,
    skipped: 0,
    deleted: 0,
    bytes: 1,
    resumedBytes: 0,
    attempts: 1,
    durationMs: 0
  }
}

describe('fan-out', () => {
  test('hosts run max-parallel at a time; results come in input order', async () => {
    let now = 0
    let most = 0
    const { options: run, done } = await options(
      'h1, h2, h3, h4, h5',
      { 'max-parallel': '2' },
      {
        deployHost: async (job) => {
          now += 1
          most = Math.max(most, now)
          // Later hosts finish sooner.
          await new Promise((resolve) =>
            setTimeout(resolve, 12 - 2 * Number(job.host.host.slice(1)))
          )
          now -= 1
          return succeeds(job)
        }
      }
    )
    const results = await fanOut(run)
    expect(most).toBe(2)
    expect(results.map((result) => result.host)).toEqual(
      ['h1', 'h2', 'h3', 'h4', 'h5'].map((name) => `u@${name}:22`)
    )
    expect(done).toHaveLength(5)
    expect(done[0]?.log.at(-1)).toEqual({ level: 'info', text: 'success in 0ms: 1 B sent' })
  })

  test('progress: each tick names the hosts still running, in their phase, and none once done', async () => {
    const ticks: { label: string; phase: string; bytes: number }[][] = []
    let release: () => void = () => undefined
    const slowDone = new Promise<void>((resolve) => (release = resolve))
    const { options: run } = await options(
      'fast, slow',
      {},
      {
        progressIntervalMs: 5,
        reporter: {
          progress: (running) =>
            ticks.push(running.map(({ label, phase, bytes }) => ({ label, phase, bytes }))),
          hostDone: () => undefined
        },
        deployHost: async (job) => {
          if (job.host.host === 'slow') {
            job.progress.phase = 'sending'
            job.progress.bytes = 7
            job.progress.sendGoal = 10
            await slowDone
          }
          return succeeds(job)
        }
      }
    )
    const finished = fanOut(run)
    // Let a few ticks pass while the slow host is sending.
    await new Promise((resolve) => setTimeout(resolve, 40))
    const during = ticks.length
    release()
    await finished
    const afterEnd = ticks.length
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(during).toBeGreaterThan(0)
    expect(ticks.at(-1)).toEqual([{ label: 'u@slow:22', phase: 'sending', bytes: 7 }])
    // The fast host was done before the first tick; nothing ticks once the run is over.
    expect(ticks.flat().some((host) => host.label === 'u@fast:22')).toBe(false)
    expect(ticks.length).toBe(afterEnd)
  })

  test("each host's token is the run's and its number: temporary names never collide between hosts", async () => {
    const tokens: string[] = []
    const { options: run } = await options(
      'h1, h2, h3',
      {},
      {
        runToken: 'run42',
        deployHost: (job) => {
          tokens.push(job.hostToken)
          return Promise.resolve(succeeds(job))
        }
      }
    )
    await fanOut(run)
    expect(tokens.sort()).toEqual(['run42-0', 'run42-1', 'run42-2'])
  })

  test('a run stopped midway: the hosts not started are skipped, and say why', async () => {
    const root = new AbortController()
    const { options: run, done } = await options(
      'h1, h2, h3',
      { 'max-parallel': '1' },
      {
        signal: root.signal,
        deployHost: (job) => {
          root.abort(new DeployError('aborted', 'the run was cancelled'))
          return Promise.resolve(succeeds(job))
        }
      }
    )
    const results = await fanOut(run)
    expect(results.map((result) => result.status)).toEqual(['success', 'skipped', 'skipped'])
    expect(results[1]?.error).toBe('not attempted: the run was cancelled')
    expect(done.map((host) => host.log.length)).toEqual([1, 0, 0])
  })

  test('fake hosts behind the real engine: one refuses the login, the others are deployed', async () => {
    const hosts = new Map<string, FakeHost>(['a', 'b', 'c'].map((name) => [name, fakeHost()]))
    const refusing = hosts.get('b') as FakeHost
    refusing.onConnect = () => new DeployError('auth', 'u@b:22: authentication failed')
    const { options: run } = await options(
      'a, b, c',
      {},
      {
        connect: (host, signal) => (hosts.get(host.host) as FakeHost).connect(signal)
      }
    )
    const results = await fanOut(run)
    expect(results.map((result) => [result.host, result.status, result.errorClass])).toEqual([
      ['u@a:22', 'success', undefined],
      ['u@b:22', 'failed', 'auth'],
      ['u@c:22', 'success', undefined]
    ])
    expect(hosts.get('a')?.file('/home/u/site/a.txt')?.toString()).toBe('a')
    expect(hosts.get('c')?.file('/home/u/site/a.txt')?.toString()).toBe('a')
    // The hosts' temporary names differ: two entries may share a login directory.
    const temporary = (name: string): string | undefined =>
      hosts.get(name)?.ops.find((op) => op.startsWith('open w /home/u/site/.a.txt'))
    expect(temporary('a')).toBeDefined()
    expect(temporary('a')).not.toBe(temporary('c'))
  })
})
