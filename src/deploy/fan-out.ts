// Deploys to every host, `max-parallel` at a time. Hosts are independent: one host's failure,
// reset or stall touches no other. Each host's log is buffered and handed over when it ends;
// while hosts run, a progress line per running host is printed every few seconds.

import { randomBytes } from 'node:crypto'
import type { Destination, Settings } from '../config/settings.js'
import { notAttempted, type HostResult } from './result.js'
import { formatDuration } from '../config/duration.js'
import { DeployError, errorMessage, oneLine } from '../errors.js'
import { afterPublished } from './rollout/after.js'
import { formatBytes } from '../format.js'
import { createChunkReader, type ChunkReader } from '../local/chunk-reader.js'
import type { LocalHasher } from '../local/digests.js'
import type { Plan } from '../local/plan.js'
import type { SshConnection } from '../ssh/types.js'
import { MAX_CHUNK } from '../transfer/upload.js'
import { deployHost } from './host.js'
import { JumpConnections } from './jump.js'
import { runPool } from './pool.js'
import { createHostProgress, type HostProgress } from './progress.js'
import { createSessionGate, type SessionGate } from './session-gate.js'
import { RateMeter, sampleRate, snapshotOf, type HostSnapshot } from './status.js'
import { openConnection } from './sessions.js'
import type { HostJob } from './types.js'
import { localBarrier, type SwitchBarrier } from './releases/barrier.js'
import { switchOneHost, switchTogether, type MadeRelease } from './releases/fleet.js'

// A host's second session waits at most this long for the other hosts' first ones.
const SECOND_SESSION_MAX_WAIT_MS = 2000

/**
 * Local data in memory, all hosts together: chunks in flight (ssh2 holds them until the server
 * acknowledges them) and recently sent ones kept for the hosts that follow.
 */
export const MAX_BYTES_IN_MEMORY = 12 * 1024 * 1024

/** Names this run's temporary files on the hosts, apart from any other run's. */
export function newRunToken(): string {
  return randomBytes(8).toString('hex')
}

export interface LogLine {
  readonly level: 'info' | 'warning' | 'debug'
  readonly text: string
}

export interface FanOutReporter {
  /** The running hosts, every progress interval. */
  progress(hosts: readonly HostSnapshot[]): void
  /** A host has finished: its result and its buffered log. */
  hostDone(result: HostResult, log: readonly LogLine[]): void
}

export interface FanOutOptions {
  readonly settings: Settings
  readonly plan: Plan
  readonly localHasher: LocalHasher
  readonly signal: AbortSignal
  readonly reporter: FanOutReporter
  readonly progressIntervalMs: number
  /** See HostJob. */
  readonly followOnThisMachine: boolean
  /** Opens a connection to a host (through its jump hosts; tests pass fakes). */
  readonly connect?: (host: Destination, signal: AbortSignal) => Promise<SshConnection>
  /** Deploys one host (deployHost; tests pass another). */
  readonly deployHost?: (job: HostJob, signal: AbortSignal) => Promise<HostResult>
  /** Where this fan-out is one thread's share of a run: the run's token, for every thread. */
  readonly runToken?: string
  /** Where this fan-out is one thread's share of a run: each host's place in the run's list. */
  readonly hostNumbers?: readonly number[]
  /** Local data in memory at most (MAX_BYTES_IN_MEMORY, or a thread's share of it). */
  readonly memoryBytes?: number
  /** `switch: together` across the run's threads (localBarrier where this fan-out is the run). */
  readonly barrier?: SwitchBarrier
}

interface Running {
  readonly label: string
  readonly progress: HostProgress
  readonly meter: RateMeter
}

/** What the hosts of a run share. */
interface Run {
  readonly options: FanOutOptions
  readonly runToken: string
  readonly sessions: SessionGate
  readonly reader: ChunkReader
  readonly running: Set<Running>
  /** Opens a connection to a host, through its jump hosts. */
  readonly connect: (host: Destination, signal: AbortSignal) => Promise<SshConnection>
}

function hostJob(run: Run, host: Destination, index: number, log: LogLine[]): HostJob {
  const { settings } = run.options
  const { connect } = run
  return {
    host,
    settings,
    plan: run.options.plan,
    localHasher: run.options.localHasher,
    hostToken: `${run.runToken}-${run.options.hostNumbers?.[index] ?? index}`,
    reader: run.reader,
    followOnThisMachine: run.options.followOnThisMachine,
    sessions: run.sessions,
    progress: createHostProgress(),
    log: {
      info: (text) => log.push({ level: 'info', text }),
      warning: (text) => log.push({ level: 'warning', text }),
      debug: (text) => log.push({ level: 'debug', text })
    },
    connect: (signal) => connect(host, signal)
  }
}

/** A host's deploy over: its result, reported with its log. */
interface HostOutcome extends MadeRelease {
  readonly log: LogLine[]
  /** In the progress lines until reported (a release waiting for its switch too). */
  readonly running?: Running
}

/** One host from start to result; a host not started before the run was stopped is skipped. */
async function runHost(run: Run, host: Destination, index: number): Promise<HostOutcome> {
  const { plan, signal } = run.options
  const log: LogLine[] = []
  const job = hostJob(run, host, index, log)
  if (signal.aborted) {
    const reason = errorMessage(signal.reason)
    const result = notAttempted(host.label, plan.files.length, `not attempted: ${reason}`)
    return { job, result, log }
  }
  const entry = { label: host.label, progress: job.progress, meter: new RateMeter() }
  run.running.add(entry)
  const result = await (run.options.deployHost ?? deployHost)(job, signal)
  return { job, result, log, running: entry }
}

/** In place: a published host's `script-after` and health checks; failed where one fails. */
async function afterInPlace(outcome: HostOutcome, signal: AbortSignal): Promise<HostResult> {
  const { job, result } = outcome
  if (result.status !== 'success') return result
  try {
    await afterPublished(job, signal)
    return result
  } catch (error) {
    const failure = error instanceof DeployError ? error : undefined
    job.log.warning(oneLine(errorMessage(error)))
    return {
      ...result,
      status: 'failed',
      error: oneLine(errorMessage(error)),
      errorClass: failure?.kind ?? 'remote-failure'
    }
  }
}

/** Reports a host's result with its log; returns the result as reported. */
function report(run: Run, outcome: HostOutcome, done: HostResult): HostResult {
  const result: HostResult = { ...done, finishedAt: new Date().toISOString() }
  if (outcome.running !== undefined) run.running.delete(outcome.running)
  if (result.attempts > 0)
    outcome.log.push({
      level: 'info',
      text: `${result.status} in ${formatDuration(result.durationMs)}: ${formatBytes(result.bytes)} sent`
    })
  run.options.reporter.hostDone(result, outcome.log)
  return result
}

/** `switch: together`: the hosts whose releases are made switch (or not) as one, then report. */
async function switchWaiting(
  run: Run,
  waiting: readonly (HostOutcome | undefined)[],
  results: (HostResult | undefined)[]
): Promise<void> {
  const { options } = run
  const places = [...waiting.keys()].filter((index) => waiting[index] !== undefined)
  const outcomes = places.map((index) => waiting[index] as HostOutcome)
  const switched = await switchTogether(outcomes, options.barrier ?? localBarrier, options.signal)
  outcomes.forEach((outcome, at) => {
    results[places[at] as number] = report(run, outcome, switched[at] as HostResult)
  })
}

export async function fanOut(options: FanOutOptions): Promise<HostResult[]> {
  const { settings, plan, reporter } = options
  const jumps = new JumpConnections(settings, options.signal, openConnection)
  const run: Run = {
    options,
    runToken: options.runToken ?? newRunToken(),
    sessions: createSessionGate(SECOND_SESSION_MAX_WAIT_MS),
    reader: createChunkReader({
      chunkSize: MAX_CHUNK,
      buffers: Math.floor((options.memoryBytes ?? MAX_BYTES_IN_MEMORY) / MAX_CHUNK)
    }),
    running: new Set(),
    connect: options.connect ?? ((host, signal) => jumps.connect(host, signal))
  }
  const results = new Array<HostResult | undefined>(settings.hosts.length)
  const ticker = setInterval(() => {
    const now = Date.now()
    const snapshots = [...run.running].map((host) =>
      snapshotOf(
        host.label,
        host.progress,
        plan.files.length,
        sampleRate(host.meter, host.progress, now)
      )
    )
    if (snapshots.length > 0) reporter.progress(snapshots)
  }, options.progressIntervalMs)
  const releases = settings.releases
  const together = releases !== undefined && releases.switchMode === 'together' && !settings.dryRun
  const waiting: HostOutcome[] = []
  try {
    await runPool(settings.hosts, settings.maxParallel, async (host, index) => {
      const outcome = await runHost(run, host, index)
      if (together) {
        // Reported once the run's hosts have switched (or not).
        waiting[index] = outcome
        return undefined
      }
      const result = settings.dryRun
        ? outcome.result
        : releases === undefined
          ? await afterInPlace(outcome, options.signal)
          : await switchOneHost(outcome, options.signal)
      results[index] = report(run, outcome, result)
      return undefined
    })
    if (together) await switchWaiting(run, waiting, results)
  } finally {
    clearInterval(ticker)
  }
  return results.map(
    (result, index) =>
      result ??
      notAttempted(settings.hosts[index]?.label ?? '?', plan.files.length, 'not attempted')
  )
}
