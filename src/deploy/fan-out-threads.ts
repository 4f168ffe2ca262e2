// The fan-out spread over worker threads: each thread runs fanOut() for its share of the hosts
// (its own connections, encryption, reads and local hashing), and sends back each host's
// progress, result and log; this thread reports them as one fan-out would. Cancelling the run
// cancels every thread's hosts.

import { Worker } from 'node:worker_threads'
import { errorMessage } from '../errors.js'
import type { Plan } from '../local/plan.js'
import type { FanOutOptions, LogLine } from './fan-out.js'
import { notAttempted, type HostResult } from './result.js'
import type { HostSnapshot } from './status.js'
import { RunBarrier, type BarrierPhase } from './releases/barrier.js'

/** What a thread is started with. */
export interface ThreadInit {
  /** What the thread rebuilds the run's settings from (the entry point's; opaque here). */
  readonly run: unknown
  readonly plan: Plan
  /** Its hosts: their places in the run's list. */
  readonly hosts: readonly number[]
  /** How many threads the run has. */
  readonly threads: number
  readonly maxParallel: number
  readonly memoryBytes: number
  readonly progressIntervalMs: number
  readonly followOnThisMachine: boolean
  readonly runToken: string
}

/** A thread's messages. */
export type FromThread =
  | { readonly type: 'progress'; readonly hosts: readonly HostSnapshot[] }
  | {
      readonly type: 'done'
      readonly index: number
      readonly result: HostResult
      readonly log: readonly LogLine[]
    }
  /** `switch: together`: whether all the thread's hosts are ready (or switched). */
  | { readonly type: 'vote'; readonly phase: BarrierPhase; readonly ok: boolean }

/** This thread's messages to them: stop, the run was cancelled; or the run's verdict. */
export type ToThread =
  | { readonly type: 'abort'; readonly reason: string }
  | { readonly type: 'verdict'; readonly phase: BarrierPhase; readonly ok: boolean }

export interface Threads {
  /** The module each thread runs (dist/worker.js). */
  readonly workerUrl: URL
  readonly run: unknown
  /** Each thread's hosts, and how many of them it deploys at once. */
  readonly lanes: readonly (readonly number[])[]
  readonly shares: readonly number[]
  readonly memoryBytes: number
  readonly runToken: string
}

/** A host whose thread ended before it reported: failed, whatever it had done. */
function lostHost(label: string, files: number, why: string): HostResult {
  return {
    ...notAttempted(label, files, ''),
    status: 'failed',
    error: `its thread ended before the host's result came back: ${why}`
  }
}

/** One thread's hosts, from its start to its end; resolves once it has exited. */
function runThread(
  options: FanOutOptions,
  threads: Threads,
  lane: number,
  results: (HostResult | undefined)[],
  barrier: RunBarrier
): Promise<void> {
  const { plan, reporter, signal } = options
  const hosts = threads.lanes[lane] ?? []
  const init: ThreadInit = {
    run: threads.run,
    plan,
    hosts,
    threads: threads.lanes.length,
    maxParallel: threads.shares[lane] ?? 1,
    memoryBytes: threads.memoryBytes,
    progressIntervalMs: options.progressIntervalMs,
    followOnThisMachine: options.followOnThisMachine,
    runToken: threads.runToken
  }
  const worker = new Worker(threads.workerUrl, { workerData: init })
  const abort = (): void => {
    const message: ToThread = { type: 'abort', reason: errorMessage(signal.reason) }
    worker.postMessage(message)
  }
  const voted = new Set<BarrierPhase>()
  signal.addEventListener('abort', abort, { once: true })
  if (signal.aborted) abort()
  let failure = 'it exited'
  let reported = 0
  worker.on('message', (message: FromThread) => {
    if (message.type === 'progress') {
      reporter.progress(message.hosts)
      return
    }
    if (message.type === 'vote') {
      voted.add(message.phase)
      void barrier.vote(message.phase, message.ok).then((ok) => {
        const verdict: ToThread = { type: 'verdict', phase: message.phase, ok }
        worker.postMessage(verdict)
      })
      return
    }
    results[message.index] = message.result
    reporter.hostDone(message.result, message.log)
    // Every host has its result: nothing the thread still holds matters.
    reported += 1
    if (reported === hosts.length) void worker.terminate()
  })
  worker.on('error', (error) => {
    failure = errorMessage(error)
  })
  return new Promise((done) => {
    worker.on('exit', (code) => {
      signal.removeEventListener('abort', abort)
      // A thread that ended before it voted holds the other threads' hosts.
      if (!voted.has('ready')) void barrier.vote('ready', false)
      else if (!voted.has('switched')) void barrier.vote('switched', false)
      for (const index of hosts) {
        if (results[index] !== undefined) continue
        const label = options.settings.hosts[index]?.label ?? '?'
        const result = lostHost(label, plan.files.length, `${failure} (exit code ${code})`)
        results[index] = result
        reporter.hostDone(result, [])
      }
      done()
    })
  })
}

export async function fanOutInThreads(
  options: FanOutOptions,
  threads: Threads
): Promise<HostResult[]> {
  const results = new Array<HostResult | undefined>(options.settings.hosts.length)
  const barrier = new RunBarrier(threads.lanes.length)
  await Promise.all(
    threads.lanes.map((_, lane) => runThread(options, threads, lane, results, barrier))
  )
  return results.map(
    (result, index) =>
      result ??
      notAttempted(
        options.settings.hosts[index]?.label ?? '?',
        options.plan.files.length,
        'not attempted'
      )
  )
}
