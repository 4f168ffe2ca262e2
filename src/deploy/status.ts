// What a running host is doing, as the progress lines and the command line's live display show
// it: its phase, files and bytes so far, the rate over the last few seconds and an ETA.

import { formatDuration } from '../config/duration.js'
import { formatBytes } from '../format.js'
import type { HostProgress, Phase } from './progress.js'

/** A running host at one moment. */
export interface HostSnapshot {
  readonly label: string
  readonly phase: Phase | 'verifying'
  readonly files: number
  readonly filesDone: number
  /** File bytes sent so far, every attempt's. */
  readonly bytes: number
  /** What `bytes` will be once this attempt has sent everything (0 before it knows). */
  readonly bytesGoal: number
  readonly attempts: number
  /** Bytes per second over the last few seconds; undefined until there are two samples. */
  readonly rate: number | undefined
  /** Until this attempt has sent everything, at `rate`; undefined where unknown. */
  readonly etaMs: number | undefined
}

// The rate is taken over this much of the recent past, and not before this much has passed.
const RATE_WINDOW_MS = 5000
const RATE_MIN_SPAN_MS = 1000

interface Sample {
  readonly at: number
  readonly bytes: number
}

/** Bytes sent over time, for a rate over the last few seconds of sending. */
export class RateMeter {
  #samples: Sample[] = []

  /**
   * Records `bytes` (a running total) at `at` ms, sending since `start`, and returns the rate
   * in bytes per second: undefined until a second of sending has passed.
   */
  sample(at: number, bytes: number, start: Sample): number | undefined {
    const samples = this.#samples
    if (samples.length === 0 || start.at > (samples[0]?.at ?? 0)) this.#samples = [start]
    this.#samples.push({ at, bytes })
    while (this.#samples.length > 2 && at - (this.#samples[1]?.at ?? at) >= RATE_WINDOW_MS)
      this.#samples.shift()
    const first = this.#samples[0]
    if (first === undefined || at - first.at < RATE_MIN_SPAN_MS) return undefined
    return ((bytes - first.bytes) * 1000) / (at - first.at)
  }

  /** Not sending: the next rate starts afresh. */
  reset(): undefined {
    this.#samples = []
    return undefined
  }
}

/** The host's rate now, while it sends. */
export function sampleRate(
  meter: RateMeter,
  progress: HostProgress,
  at: number
): number | undefined {
  return progress.phase === 'sending' && progress.sendStart !== undefined
    ? meter.sample(at, progress.bytes, progress.sendStart)
    : meter.reset()
}

export function snapshotOf(
  label: string,
  progress: HostProgress,
  files: number,
  rate: number | undefined
): HostSnapshot {
  const left = Math.max(0, progress.sendGoal - progress.bytes)
  const sending = progress.phase === 'sending'
  return {
    label,
    phase: sending && left === 0 ? 'verifying' : progress.phase,
    files,
    filesDone: progress.uploaded + progress.skipped,
    bytes: progress.bytes,
    bytesGoal: progress.sendGoal,
    attempts: progress.attempts,
    rate,
    etaMs: sending && left > 0 && rate !== undefined && rate > 0 ? (left * 1000) / rate : undefined
  }
}

export function formatRate(rate: number | undefined): string {
  return rate === undefined ? '-' : `${formatBytes(Math.round(rate))}/s`
}

/** `sending, 3/40 files, 1.20 MiB of 8.00 MiB, 2.31 MiB/s, ETA 3.0s, attempt 1` */
export function progressText(host: HostSnapshot): string {
  const parts = [host.phase, `${host.filesDone}/${host.files} files`]
  parts.push(
    host.bytesGoal > host.bytes
      ? `${formatBytes(host.bytes)} of ${formatBytes(host.bytesGoal)}`
      : `${formatBytes(host.bytes)} sent`
  )
  if (host.rate !== undefined) parts.push(formatRate(host.rate))
  if (host.etaMs !== undefined) parts.push(`ETA ${formatDuration(host.etaMs)}`)
  parts.push(`attempt ${host.attempts}`)
  return parts.join(', ')
}
