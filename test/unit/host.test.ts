// One host's retry policy, with attempts of a test's making (deployHost's `attempt` seam) or
// against a fake host: retried or not, failed or skipped, and the leftovers removed.

import { describe, expect, test } from 'vitest'
import { deployHost, type AttemptRunner } from '../../src/deploy/host.js'
import type { HostJob } from '../../src/deploy/types.js'
import { DeployError } from '../../src/errors.js'
import { fakeHost } from './fakes/fake-host.js'
import { testJob, testPlan } from './fakes/host-job.js'

/** Attempts that fail with `failures` in turn (a string: a DeployError of that kind), then succeed. */
function attempts(...failures: (DeployError['kind'] | Error)[]): AttemptRunner {
  return (job: HostJob) => {
    const next = failures[job.progress.attempts - 1]
    if (next === undefined) return Promise.resolve()
    return Promise.reject(
      typeof next === 'string'
        ? new DeployError(next, `attempt ${job.progress.attempts}: ${next}`)
        : next
    )
  }
}

async function setUp(inputs: Parameters<typeof testPlan>[1] = {}) {
  const { settings, plan } = await testPlan({ 'a.txt': 'a' }, inputs)
  const host = fakeHost()
  return { host, ...testJob(host, settings, plan) }
}

const running = (): AbortSignal => new AbortController().signal

describe('one host, attempt after attempt', () => {
  test('a failure worth a retry is retried, and the log says so', async () => {
    const { job, lines } = await setUp()
    const result = await deployHost(job, running(), attempts('network'))
    expect(result).toMatchObject({ status: 'success', attempts: 2, host: 'u@fake.example:22' })
    expect(lines[0]).toMatch(
      /^warning: attempt 1 failed after \d+ms \(network\): attempt 1: network — retrying in \d+ms$/
    )
    expect(lines.at(-1)).toBe('done: 0 uploaded, 0 already up to date, 2 attempt(s)')
  })

  test('a failure no retry can help fails the host at once', async () => {
    const { job, lines } = await setUp()
    const result = await deployHost(job, running(), attempts('permission', 'permission'))
    expect(result).toMatchObject({
      status: 'failed',
      attempts: 1,
      error: 'attempt 1: permission',
      errorClass: 'permission'
    })
    expect(lines).toEqual([
      expect.stringMatching(
        /^warning: attempt 1 failed after \d+ms \(permission\): attempt 1: permission$/
      )
    ])
  })

  test('retries run out: the last failure is the host’s', async () => {
    const { job } = await setUp({ retries: '2' })
    const result = await deployHost(
      job,
      running(),
      attempts('timeout', 'network', 'network', 'network')
    )
    expect(result).toMatchObject({ status: 'failed', attempts: 3, error: 'attempt 3: network' })
  })

  test('what is not a DeployError fails the host as a remote failure', async () => {
    const { job } = await setUp()
    const result = await deployHost(job, running(), attempts(new TypeError('bad')))
    expect(result).toMatchObject({
      status: 'failed',
      attempts: 1,
      errorClass: 'remote-failure',
      error: 'bad'
    })
  })

  test('a run stopped before the host started: skipped', async () => {
    const { job } = await setUp()
    const root = new AbortController()
    root.abort(new DeployError('aborted', 'the run was cancelled'))
    const result = await deployHost(job, root.signal, attempts())
    expect(result).toMatchObject({ status: 'skipped', attempts: 0, errorClass: 'aborted' })
  })

  test("the host's timeout stops the attempt under way and starts no retry", async () => {
    const { job } = await setUp({ timeout: '30ms' })
    const waitForAbort: AttemptRunner = (_job, signal) =>
      new Promise((_resolve, reject) =>
        signal.addEventListener('abort', () => reject(signal.reason as Error))
      )
    const result = await deployHost(job, running(), waitForAbort)
    expect(result).toMatchObject({ status: 'failed', attempts: 1, errorClass: 'timeout' })
    expect(result.error).toBe(
      "u@fake.example:22: the host's timeout of 30ms passed; the attempt under way was stopped and no retry starts"
    )
  })
})

describe('after a host has failed', () => {
  const leaveTemporary =
    (path: string, host: ReturnType<typeof fakeHost>): AttemptRunner =>
    (job) => {
      host.put(path, 'partial')
      job.progress.temporaries.add(path)
      return Promise.reject(new DeployError('permission', 'denied'))
    }

  test('what this run left there is removed over a new connection', async () => {
    const { job, lines, host } = await setUp()
    const temporary = '/home/u/site/.a.txt.tmp'
    const result = await deployHost(job, running(), leaveTemporary(temporary, host))
    expect(result.status).toBe('failed')
    expect(host.file(temporary)).toBeUndefined()
    expect(host.connections).toBe(1)
    expect(lines.at(-1)).toBe('removed 1 temporary file(s) this run left on the host')
  })

  test('where the host cannot be reached again, the leftovers are named', async () => {
    const { job, lines, host } = await setUp()
    host.onConnect = () => new DeployError('network', 'connection refused')
    const temporary = '/home/u/site/.a.txt.tmp'
    await deployHost(job, running(), leaveTemporary(temporary, host))
    expect(host.file(temporary)?.toString()).toBe('partial')
    expect(lines.at(-1)).toBe(
      `warning: could not reconnect to remove 1 temporary file(s) this run left (connection refused): ${temporary}`
    )
  })

  test('with a real attempt: a refused login is not retried and leaves nothing to remove', async () => {
    const { job, host } = await setUp()
    host.onConnect = () => new DeployError('auth', 'u@fake.example:22: authentication failed')
    const result = await deployHost(job, running())
    expect(result).toMatchObject({ status: 'failed', attempts: 1, errorClass: 'auth' })
    expect(host.connections).toBe(1)
  })

  test('with a real attempt: a lost connection is retried, and the retry finishes the job', async () => {
    const { job, host } = await setUp()
    host.onWrite = () => {
      host.onWrite = undefined
      return 'cut'
    }
    const result = await deployHost(job, running())
    expect(result).toMatchObject({ status: 'success', attempts: 2, uploaded: 1 })
    expect(host.file('/home/u/site/a.txt')?.toString()).toBe('a')
  })
})
