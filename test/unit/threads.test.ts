// The fan-out's threads: how many, which hosts each takes, max-parallel shared between them; and
// the main side against real worker threads that report, hang or die.

import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, test } from 'vitest'
import type { Destination } from '../../src/config/settings.js'
import type { FanOutOptions, LogLine } from '../../src/deploy/fan-out.js'
import { fanOutInThreads, type Threads } from '../../src/deploy/fan-out-threads.js'
import type { HostResult } from '../../src/deploy/result.js'
import { assignHosts, parallelShares, threadCount } from '../../src/deploy/threads.js'
import { createLocalHasher } from '../../src/local/digests.js'
import { tempDir } from '../harness/temp.js'
import { testPlan } from './fakes/host-job.js'

describe('how many threads', () => {
  test('auto: one thread below 4 cores', () => {
    expect(threadCount('auto', 8, 8, 2)).toBe(1)
    expect(threadCount('auto', 8, 8, 3)).toBe(1)
  })

  test('auto: the cores, at most one per host and per max-parallel', () => {
    expect(threadCount('auto', 8, 8, 4)).toBe(4)
    expect(threadCount('auto', 3, 8, 16)).toBe(3)
    expect(threadCount('auto', 8, 2, 16)).toBe(2)
    expect(threadCount('auto', 1, 8, 16)).toBe(1)
    expect(threadCount('auto', 0, 8, 16)).toBe(1)
  })

  test('a number caps it, whatever the cores', () => {
    expect(threadCount(1, 8, 8, 16)).toBe(1)
    expect(threadCount(6, 8, 8, 2)).toBe(6)
    expect(threadCount(6, 4, 8, 2)).toBe(4)
  })
})

const host = (label: string, jump?: string): Destination =>
  ({ label, jump: jump === undefined ? [] : [{ label: jump }] }) as unknown as Destination

describe('which hosts each thread takes', () => {
  test('dealt in input order to the thread with the fewest', () => {
    const hosts = ['a', 'b', 'c', 'd', 'e'].map((label) => host(label))
    expect(assignHosts(hosts, 2)).toEqual([
      [0, 2, 4],
      [1, 3]
    ])
  })

  test('hosts behind the same first jump host on one thread', () => {
    const hosts = [
      host('a', 'bastion1'),
      host('b'),
      host('c', 'bastion1'),
      host('d', 'bastion2'),
      host('e', 'bastion1'),
      host('f')
    ]
    const lanes = assignHosts(hosts, 3)
    const laneOf = (index: number): number => lanes.findIndex((lane) => lane.includes(index))
    expect(laneOf(0)).toBe(laneOf(2))
    expect(laneOf(0)).toBe(laneOf(4))
    expect(laneOf(3)).not.toBe(laneOf(0))
    expect(lanes.flat().sort()).toEqual([0, 1, 2, 3, 4, 5])
  })

  test('no empty thread', () => {
    const hosts = [host('a', 'j'), host('b', 'j'), host('c', 'j')]
    expect(assignHosts(hosts, 3)).toEqual([[0, 1, 2]])
  })

  test('max-parallel shared: at least one each, never more in all, never more than a thread has', () => {
    expect(
      parallelShares(
        [
          [0, 2, 4],
          [1, 3]
        ],
        8
      )
    ).toEqual([3, 2])
    expect(
      parallelShares(
        [
          [0, 2, 4],
          [1, 3]
        ],
        3
      )
    ).toEqual([2, 1])
    expect(
      parallelShares(
        [
          [0, 2, 4],
          [1, 3]
        ],
        2
      )
    ).toEqual([1, 1])
    expect(parallelShares([[0], [1], [2], [3]], 6)).toEqual([1, 1, 1, 1])
  })
})

/** A worker module of the test's making, run as a fan-out thread. */
function workerModule(body: string): URL {
  const path = join(tempDir('worker'), 'worker.mjs')
  writeFileSync(
    path,
    [
      "import { parentPort, workerData } from 'node:worker_threads'",
      'const result = (label, status) => ({ host: label, status, files: 1, uploaded: 1, skipped: 0, deleted: 0, bytes: 1, resumedBytes: 0, attempts: 1, durationMs: 0 })',
      body
    ].join('\n')
  )
  return pathToFileURL(path)
}

async function runThreads(
  body: string,
  signal: AbortSignal = new AbortController().signal
): Promise<{ results: HostResult[]; done: { result: HostResult; log: readonly LogLine[] }[] }> {
  const { settings, plan } = await testPlan({ 'a.txt': 'a' }, { host: 'h1, h2, h3, h4' })
  const done: { result: HostResult; log: readonly LogLine[] }[] = []
  const options: FanOutOptions = {
    settings,
    plan,
    localHasher: createLocalHasher(),
    signal,
    progressIntervalMs: 60_000,
    followOnThisMachine: false,
    reporter: { progress: () => undefined, hostDone: (result, log) => done.push({ result, log }) }
  }
  const threads: Threads = {
    workerUrl: workerModule(body),
    run: { labels: settings.hosts.map((h) => h.label) },
    lanes: [
      [0, 2],
      [1, 3]
    ],
    shares: [1, 1],
    memoryBytes: 1 << 20,
    runToken: 'token'
  }
  return { results: await fanOutInThreads(options, threads), done }
}

describe('threads at work', () => {
  test("each thread's results land at their hosts' places, with their logs", async () => {
    const { results, done } = await runThreads(
      [
        'const { labels } = workerData.run',
        'for (const index of workerData.hosts) parentPort.postMessage({ type: "done", index, result: result(labels[index], "success"), log: [{ level: "info", text: `thread of ${workerData.hosts.join(",")}` }] })'
      ].join('\n')
    )
    expect(results.map((result) => result.status)).toEqual([
      'success',
      'success',
      'success',
      'success'
    ])
    expect(results.map((result) => result.host)).toEqual(done.map((d) => d.result.host).sort())
    expect(done.find((d) => d.result.host.includes('h2'))?.log[0]?.text).toBe('thread of 1,3')
  })

  test('a thread that dies fails the hosts it had not reported', async () => {
    const { results } = await runThreads(
      [
        'const { labels } = workerData.run',
        'const [first] = workerData.hosts',
        'parentPort.postMessage({ type: "done", index: first, result: result(labels[first], "success"), log: [] })',
        'if (workerData.hosts.includes(1)) setTimeout(() => { throw new Error("boom in the thread") }, 10)',
        'else for (const index of workerData.hosts.slice(1)) parentPort.postMessage({ type: "done", index, result: result(labels[index], "success"), log: [] })'
      ].join('\n')
    )
    expect(results.map((result) => result.status)).toEqual([
      'success',
      'success',
      'success',
      'failed'
    ])
    expect(results[3]?.error).toMatch(
      /its thread ended before the host's result came back: .*boom in the thread/
    )
  })

  test('cancelling the run tells every thread, whose hosts end as they report', async () => {
    const controller = new AbortController()
    const pending = runThreads(
      [
        'const { labels } = workerData.run',
        'parentPort.postMessage({ type: "progress", hosts: [] })',
        'parentPort.on("message", (message) => {',
        '  for (const index of workerData.hosts) parentPort.postMessage({ type: "done", index, result: { ...result(labels[index], "failed"), error: message.reason }, log: [] })',
        '})'
      ].join('\n'),
      controller.signal
    )
    setTimeout(() => controller.abort(new Error('the run was cancelled (SIGTERM)')), 100)
    const { results } = await pending
    expect(results.map((result) => result.error)).toEqual(
      Array.from({ length: 4 }, () => 'the run was cancelled (SIGTERM)')
    )
  })
})
