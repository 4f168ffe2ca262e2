// One host from start to result: attempts with retries (p-retry, every option explicit),
// bounded by the host's overall `timeout` and the run's root signal.

import pRetry from 'p-retry'
import { formatDuration } from './duration.js'
import { DeployError, errorMessage, oneLine } from './errors.js'
import { runAttempt, type HostJob } from './host-session.js'
import type { HostResult } from './report.js'

// Backoff doubles from `retry-delay` up to this, each delay scaled by a random 1-2 factor.
const MAX_BACKOFF_MS = 30_000

/** A signal that aborts with a DeployError when the host's `timeout` passes. */
function deadlineSignal(ms: number, label: string): { signal: AbortSignal; clear: () => void } {
  const controller = new AbortController()
  const timer = setTimeout(() => {
    controller.abort(
      new DeployError(
        'timeout',
        `${label}: the host's timeout of ${formatDuration(ms)} passed; the attempt under way was stopped and no retry starts`
      )
    )
  }, ms)
  return { signal: controller.signal, clear: () => clearTimeout(timer) }
}

function asDeployError(error: unknown): DeployError {
  if (error instanceof DeployError) return error
  return new DeployError('remote-failure', errorMessage(error), { cause: error })
}

export async function deployHost(job: HostJob, rootSignal: AbortSignal): Promise<HostResult> {
  const { host, settings, progress, log } = job
  const started = Date.now()
  const deadline = deadlineSignal(settings.timeoutMs, host.label)
  const signal = AbortSignal.any([rootSignal, deadline.signal])

  const result = (status: HostResult['status'], error?: string): HostResult => ({
    host: host.label,
    status,
    files: job.plan.files.length,
    uploaded: progress.uploaded,
    skipped: progress.skipped,
    bytes: progress.bytes,
    attempts: progress.attempts,
    durationMs: Date.now() - started,
    ...(error === undefined ? {} : { error: oneLine(error) })
  })

  try {
    await pRetry(
      async () => {
        progress.attempts += 1
        await runAttempt(job, signal)
      },
      {
        retries: settings.retries,
        factor: 2,
        minTimeout: settings.retryDelayMs,
        maxTimeout: Math.max(settings.retryDelayMs, MAX_BACKOFF_MS),
        randomize: true,
        maxRetryTime: Infinity,
        unref: false,
        signal,
        shouldConsumeRetry: () => true,
        onFailedAttempt: ({ error, attemptNumber, retriesLeft, retryDelay }) => {
          const failure = asDeployError(error)
          const retrying = failure.retryable && retriesLeft > 0 && !signal.aborted
          log.warning(
            `attempt ${attemptNumber} failed (${failure.kind}): ${oneLine(failure.message)}${
              retrying ? ` — retrying in ${formatDuration(retryDelay)}` : ''
            }`
          )
        },
        shouldRetry: ({ error }) => asDeployError(error).retryable && !signal.aborted
      }
    )
    log.info(
      `done: ${progress.uploaded} uploaded, ${progress.skipped} already up to date, ${progress.attempts} attempt(s)`
    )
    return result('success')
  } catch (error) {
    const failure = asDeployError(error)
    if (failure.kind === 'aborted' && progress.attempts === 0)
      return result('skipped', failure.message)
    return result('failed', failure.message)
  } finally {
    deadline.clear()
  }
}
