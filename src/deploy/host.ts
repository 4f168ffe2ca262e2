// One host from start to result: attempts with retries (p-retry, every option explicit),
// bounded by the host's overall `timeout` and the run's root signal.

import { planAttempt } from './dry-run.js'
import pRetry from 'p-retry'
import { formatDuration } from '../config/duration.js'
import { DeployError, errorMessage, oneLine } from '../errors.js'
import { runAttempt } from './attempt.js'
import { rollbackAttempt } from './releases/rollback.js'
import { removeLockAndRelease, removeTemporaries } from './cleanup.js'
import type { HostJob } from './types.js'
import { releaseDir } from './releases/layout.js'
import { jumpOf, type HostResult } from './result.js'

/** One attempt at the job's host (runAttempt; tests pass another). */
export type AttemptRunner = (job: HostJob, signal: AbortSignal) => Promise<void>

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

// Removing leftovers after a failure gets its own short deadline: the host's may have passed.
const CLEANUP_DEADLINE_MS = 15_000
// A lock the last connection could not remove goes over a new one within this (after a
// cancellation, within the runner's grace period).
const LEFT_LOCK_DEADLINE_MS = 5000

/** Removes a lock this host still holds over a new connection; says so where it cannot. */
async function releaseLeftLock(job: HostJob): Promise<void> {
  const path = job.progress.lock
  const release = job.progress.release
  const releaseLeft = release?.made === true && !release.switched
  if (path === undefined && !releaseLeft) return
  const deadline = deadlineSignal(LEFT_LOCK_DEADLINE_MS, job.host.label)
  try {
    await removeLockAndRelease(job, deadline.signal)
  } catch (error) {
    job.log.warning(
      `could not remove what this run left (${oneLine(errorMessage(error))}): the next deploy will find it; remove ${[path, ...leftRelease(job)].filter((left) => left !== undefined).join(' and ')} on the host`
    )
  } finally {
    deadline.clear()
  }
}

/** The release directory this run made and did not switch to, while it is there. */
function leftRelease(job: HostJob): string[] {
  const release = job.progress.release
  return release?.made === true && !release.switched ? [releaseDir(release.root, release.name)] : []
}

async function cleanUp(
  job: HostJob,
  rootSignal: AbortSignal,
  connectTimeoutMs: number
): Promise<void> {
  const { progress, log } = job
  if (rootSignal.aborted) {
    // Temporaries wait for the next run; the lock and an unswitched release do not.
    await job.progress.release?.kept?.connection.close().catch(() => undefined)
    await releaseLeftLock(job)
    return
  }
  const count =
    progress.temporaries.size +
    progress.stagingDirs.size +
    (progress.lock === undefined ? 0 : 1) +
    (progress.release?.made === true ? 1 : 0)
  if (count === 0) return
  const deadline = deadlineSignal(
    Math.min(CLEANUP_DEADLINE_MS, connectTimeoutMs + 5000),
    job.host.label
  )
  try {
    const left = await removeTemporaries(job, AbortSignal.any([rootSignal, deadline.signal]))
    if (left.length === 0) log.info(`removed ${count} temporary file(s) this run left on the host`)
    else
      log.warning(
        `could not remove ${left.length} temporary file(s) this run left: ${left.join(', ')}`
      )
  } catch (error) {
    log.warning(
      `could not reconnect to remove ${count} temporary file(s) this run left (${oneLine(errorMessage(error))}): ${[...progress.temporaries, ...progress.stagingDirs, ...leftRelease(job)].join(', ')}`
    )
  } finally {
    deadline.clear()
  }
}

/** Runs attempts until one succeeds, a failure is not worth a retry, or none is left. */
async function withRetries(
  job: HostJob,
  signal: AbortSignal,
  attempt: AttemptRunner
): Promise<void> {
  const { settings, progress, log } = job
  let attemptStarted = Date.now()
  await pRetry(
    async () => {
      progress.attempts += 1
      progress.phase = 'connecting'
      attemptStarted = Date.now()
      await attempt(job, signal)
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
        if (retrying) progress.phase = 'retrying'
        log.warning(
          `attempt ${attemptNumber} failed after ${formatDuration(Date.now() - attemptStarted)} (${failure.kind}): ${oneLine(failure.message)}${
            retrying ? ` — retrying in ${formatDuration(retryDelay)}` : ''
          }`
        )
      },
      shouldRetry: ({ error }) => asDeployError(error).retryable && !signal.aborted
    }
  )
}

function hostResult(
  job: HostJob,
  started: number,
  status: HostResult['status'],
  error?: DeployError
): HostResult {
  const { progress } = job
  return {
    host: job.host.label,
    status,
    files: job.plan.files.length,
    uploaded: progress.uploaded,
    skipped: progress.skipped,
    deleted: progress.deleted,
    bytes: progress.bytes,
    resumedBytes: progress.resumedBytes,
    attempts: progress.attempts,
    durationMs: Date.now() - started,
    startedAt: new Date(started).toISOString(),
    ...(error === undefined ? {} : { error: oneLine(error.message), errorClass: error.kind }),
    ...jumpOf(job.host),
    ...(progress.planned === undefined ? {} : { planned: progress.planned })
  }
}

/**
 * Deploys to one host: success, failed (what this run left there removed), or skipped where
 * the run was stopped before its first attempt.
 */
export async function deployHost(
  job: HostJob,
  rootSignal: AbortSignal,
  attempt: AttemptRunner = job.settings.dryRun
    ? planAttempt
    : job.settings.releases?.rollback === true
      ? rollbackAttempt
      : runAttempt
): Promise<HostResult> {
  const { host, settings, progress, log } = job
  const started = Date.now()
  const deadline = deadlineSignal(settings.timeoutMs, host.label)
  const signal = AbortSignal.any([rootSignal, deadline.signal])
  try {
    await withRetries(job, signal, attempt)
    if (settings.dryRun) return hostResult(job, started, 'planned')
    // A release keeps its lock until it is switched (see releases/switch.ts).
    if (settings.releases !== undefined) return hostResult(job, started, 'success')
    await releaseLeftLock(job)
    log.info(
      `done: ${progress.uploaded} uploaded, ${progress.skipped} already up to date${settings.delete ? `, ${progress.deleted} deleted` : ''}, ${progress.attempts} attempt(s)`
    )
    return hostResult(job, started, 'success')
  } catch (error) {
    const failure = asDeployError(error)
    if (failure.kind === 'aborted' && progress.attempts === 0)
      return hostResult(job, started, 'skipped', failure)
    await cleanUp(job, rootSignal, settings.connectTimeoutMs)
    return hostResult(job, started, 'failed', failure)
  } finally {
    deadline.clear()
  }
}
