// Deploys to every host, `max-parallel` at a time. Hosts are independent: one host's failure,
// reset or stall touches no other. Each host's log is buffered and handed over when it ends;
// while hosts run, a progress line per running host is printed every few seconds.

import { randomBytes } from 'node:crypto'
import { createChunkReader } from '../local/chunk-reader.js'
import { deployHost } from './host.js'
import { formatDuration } from '../config/duration.js'
import { errorMessage } from '../errors.js'
import { createHostProgress, type HostJob, type HostProgress } from './attempt.js'
import { createSessionGate } from './session-gate.js'
import type { Settings } from '../action/inputs.js'
import type { LocalHasher } from '../local/digests.js'
import type { Plan } from '../local/plan.js'
import { MAX_CHUNK } from '../transfer/upload.js'
import { formatBytes } from '../format.js'
import { notAttempted, type HostResult } from '../action/report.js'

// A host's second session waits at most this long for the other hosts' first ones.
const SECOND_SESSION_MAX_WAIT_MS = 2000

/**
 * Local data in memory, all hosts together: chunks in flight (ssh2 holds them until the server
 * acknowledges them) and recently sent ones kept for the hosts that follow.
 */
const MAX_BYTES_IN_MEMORY = 12 * 1024 * 1024

export interface LogLine {
  readonly level: 'info' | 'warning'
  readonly text: string
}

export interface FanOutReporter {
  /** A line outside any group (progress). */
  progress(line: string): void
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
}

interface Running {
  readonly label: string
  readonly progress: HostProgress
}

export function progressLine(label: string, progress: HostProgress, files: number): string {
  const done = progress.uploaded + progress.skipped
  return `${label}: ${done}/${files} files, ${formatBytes(progress.bytes)} sent, attempt ${progress.attempts}`
}

export async function fanOut(options: FanOutOptions): Promise<HostResult[]> {
  const { settings, plan, signal, reporter } = options
  const runToken = randomBytes(8).toString('hex')
  const sessions = createSessionGate(SECOND_SESSION_MAX_WAIT_MS)
  const reader = createChunkReader({
    chunkSize: MAX_CHUNK,
    buffers: Math.floor(MAX_BYTES_IN_MEMORY / MAX_CHUNK)
  })
  const results = new Array<HostResult | undefined>(settings.hosts.length)
  const running = new Set<Running>()

  const ticker = setInterval(() => {
    for (const host of running)
      reporter.progress(progressLine(host.label, host.progress, plan.files.length))
  }, options.progressIntervalMs)

  let next = 0
  const lane = async (): Promise<void> => {
    while (next < settings.hosts.length) {
      const index = next
      next += 1
      const host = settings.hosts[index]
      if (host === undefined) continue
      if (signal.aborted) {
        const reason = errorMessage(signal.reason)
        results[index] = notAttempted(host.label, plan.files.length, `not attempted: ${reason}`)
        reporter.hostDone(results[index], [])
        continue
      }
      const log: LogLine[] = []
      const progress = createHostProgress()
      const job: HostJob = {
        host,
        settings,
        plan,
        localHasher: options.localHasher,
        hostToken: `${runToken}-${index}`,
        reader,
        followOnThisMachine: options.followOnThisMachine,
        sessions,
        progress,
        log: {
          info: (text) => log.push({ level: 'info', text }),
          warning: (text) => log.push({ level: 'warning', text })
        }
      }
      const entry = { label: host.label, progress }
      running.add(entry)
      const result = await deployHost(job, signal)
      running.delete(entry)
      results[index] = result
      log.push({
        level: 'info',
        text: `${result.status} in ${formatDuration(result.durationMs)}: ${formatBytes(result.bytes)} sent`
      })
      reporter.hostDone(result, log)
    }
  }

  try {
    await Promise.all(
      Array.from({ length: Math.min(settings.maxParallel, settings.hosts.length) }, lane)
    )
  } finally {
    clearInterval(ticker)
  }
  return results.map(
    (result, index) =>
      result ??
      notAttempted(settings.hosts[index]?.label ?? '?', plan.files.length, 'not attempted')
  )
}
