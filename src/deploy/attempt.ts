// One attempt at one host, as its steps: connect and open the sessions, resolve the target,
// find the files the host has already, check before sending (preflight), then send each file
// and publish it (verified, renamed into place). A retry runs this again with the files still
// to do.

import { formatDuration } from '../config/duration.js'
import { DeployError } from '../errors.js'
import type { PlannedFile } from '../local/plan.js'
import type { RemoteHasher } from '../remote/hasher-pool.js'
import type { SshConnection } from '../ssh/types.js'
import { removeStaging } from '../transfer/staged-publish.js'
import { TAR_MIN_FILES } from '../transfer/tar-stream.js'
import { checkBeforeSending } from './preflight.js'
import { startSending } from './progress.js'
import { send, smallFiles } from './send.js'
import { createHasher, openSessions } from './sessions.js'
import { releaseLock, takeLock } from './lock.js'
import { makeTargetInShell, resolveTarget, type ResolvedTarget } from './target.js'
import type { Attempt, Connected, HostJob } from './types.js'
import { deleteExtraneous, planDeletion, type Extraneous } from './sync.js'
import { prepareRelease } from './releases/prepare.js'
import { runScriptBefore } from './rollout/after.js'
import { prefetchDigests, skipUnchanged } from './unchanged.js'
import { connectionIsUp } from '../transfer/connection-state.js'

/** What an attempt starts with: the files not done yet. */
interface WorkList {
  /** Files (not links) to deploy. */
  readonly files: readonly PlannedFile[]
  /** Symbolic links to deploy as links (`follow-symbolic-links: false`): they go over SFTP. */
  readonly links: readonly PlannedFile[]
  /** The small ones of `files`, for a tar stream. */
  readonly small: readonly PlannedFile[]
  /** Enough small files for a tar stream, taken by the hashing shell: it logs in first. */
  readonly shellFirst: boolean
}

function workList(job: HostJob): WorkList {
  const todo = job.plan.files.filter((file) => !job.progress.done.has(file.relativePath))
  const links = todo.filter((file) => file.linkTarget !== undefined)
  const files = links.length > 0 ? todo.filter((file) => file.linkTarget === undefined) : todo
  const small = smallFiles(job, files)
  // A release goes into a directory of its own under the target: the shell does not make it.
  // Nor where script-before must run before anything is written.
  const shellFirst =
    job.settings.releases === undefined &&
    job.settings.rollout.scriptBefore === undefined &&
    job.settings.verify === 'sha256' &&
    small.length >= TAR_MIN_FILES
  return { files, links, small, shellFirst }
}

/** The steps, once connected. */
async function runSteps(
  connected: Connected,
  work: WorkList,
  firstSessionUp: () => void
): Promise<void> {
  const { hasher, localHasher, progress } = connected
  progress.phase = 'checking'
  const sftp = await openSessions(connected, work.shellFirst, firstSessionUp)
  const bytesToSend = work.files.reduce((sum, file) => sum + file.size, 0)
  const shellTarget = work.shellFirst
    ? await makeTargetInShell(connected, work.small, bytesToSend)
    : {}
  // The host's digests of the files a redeploy may have are asked for while SFTP starts, and
  // the local ones computed meanwhile once the first answer shows there is something to compare
  // with; in a new target they come from the reads that send the files. A target the shell has
  // just made holds nothing to compare with.
  const prefetched =
    hasher !== undefined &&
    shellTarget.madeAt === undefined &&
    connected.settings.releases === undefined
      ? prefetchDigests(hasher, connected.host.target, work.files, () =>
          localHasher.warm(work.files)
        )
      : undefined
  const target = await resolveTarget(
    connected,
    await sftp.session,
    shellTarget,
    prefetched,
    bytesToSend
  )
  connected.progress.targetPath = target.attempt.base
  const taken = await takeLock(target.attempt)
  const locked = taken.waited ? await readAgainAfterWaiting(target) : target
  const { attempt } = locked
  const { releases } = attempt.settings
  if (releases !== undefined) {
    // Under the lock, before anything is written; where it fails, nothing is.
    await runScriptBefore(attempt, attempt.connection, attempt.base, attempt.signal)
    // The lock stays until the switch is over, or the release is removed after a failure.
    if (taken.readOnly) throw notWritable(attempt, work.files.length + work.links.length)
    await prepareRelease(attempt, releases, work)
    return
  }
  try {
    // What `delete` will remove is known (and max-delete enforced) before anything is written
    // and before the user's script runs: a host refused for it is left as it was.
    const deletion =
      attempt.settings.delete && !attempt.targetIsNew ? await planDeletion(attempt) : undefined
    await runScriptBefore(attempt, attempt.connection, attempt.base, attempt.signal)
    await stepsUnderLock(attempt, work, locked, { readOnly: taken.readOnly, deletion })
  } catch (error) {
    // A failure a retry follows keeps the lock (the retry takes it over by its token): no other
    // deploy gets in between the attempts. Else it goes now; where it cannot, the cleanup
    // after the failure removes it.
    const retried = error instanceof DeployError && error.retryable && !attempt.signal.aborted
    if (!retried)
      await releaseLock(attempt, attempt.sftp, attempt.connection).catch(() => undefined)
    throw error
  }
  // Done: where this fails, deployHost removes the lock over a new connection.
  await releaseLock(attempt, attempt.sftp, attempt.connection).catch(() => undefined)
}

/**
 * Another deploy held the lock first: what was read of the target before (whether it was new,
 * the host's digests, a stream into a target the shell made) may no longer hold, and is read
 * again as the steps go.
 */
async function readAgainAfterWaiting(target: ResolvedTarget): Promise<ResolvedTarget> {
  const { attempt, stream, prefetched } = target
  prefetched?.abandon()
  if (stream !== undefined) {
    await stream.streamed.catch(() => undefined)
    if (await removeStaging(attempt.connection, attempt.sftp, stream.stagingDir))
      attempt.progress.stagingDirs.delete(stream.stagingDir)
  }
  return {
    attempt: { ...attempt, targetIsNew: false, unchangedFound: false },
    stream: undefined,
    prefetched: undefined
  }
}

function notWritable(attempt: Attempt, count: number): DeployError {
  return new DeployError(
    'permission',
    `cannot take the deploy lock in ${attempt.base}: the target is not writable (permission denied), and ${count} file(s) are to be written; nothing was written`
  )
}

/** The steps that write: with the target's lock held. */
async function stepsUnderLock(
  attempt: Attempt,
  work: WorkList,
  target: ResolvedTarget,
  { readOnly, deletion }: { readOnly: boolean; deletion: Extraneous | undefined }
): Promise<void> {
  const { stream } = target
  const { progress } = attempt
  const files = await skipUnchanged(attempt, work.files, target.prefetched)
  // With nothing to send there is nothing to check room or write access for.
  const checked = work.links.length === 0 ? files : [...files, ...work.links]
  await checkBeforeSending(attempt, checked, stream !== undefined)
  if (readOnly && (checked.length > 0 || (deletion?.files.length ?? 0) > 0))
    throw notWritable(attempt, checked.length)
  startSending(
    progress,
    files.reduce((sum, file) => sum + file.size, 0)
  )
  await send(attempt, {
    files,
    links: work.links,
    stream: stream === undefined ? undefined : { shellStream: stream, files: work.small }
  })
  // Every file is published: only now is anything deleted.
  if (deletion === undefined) return
  progress.phase = 'deleting'
  await deleteExtraneous(attempt, deletion)
}

/** A release made: its connection stays open for the switch (see releases/switch.ts). */
async function keepForSwitch(job: HostJob, connection: SshConnection): Promise<void> {
  const { release } = job.progress
  if (release === undefined) return
  // The SFTP session is up already: the attempt used it.
  const sftp = await connection.sftp()
  if (connectionIsUp(connection)) release.kept = { connection, sftp }
}

/** One attempt. Throws a DeployError; `retryable` tells the caller whether to try again. */
export async function runAttempt(job: HostJob, signal: AbortSignal): Promise<void> {
  const started = Date.now()
  // Until this host's first session is up, the other hosts' second sessions wait.
  const firstSessionUp = job.sessions.first()
  let connection: SshConnection
  try {
    connection = await job.connect(signal)
  } catch (error) {
    firstSessionUp()
    throw error
  }
  const through = job.host.jump.map((hop) => hop.label).join(' → ')
  job.log.info(
    `connected in ${formatDuration(Date.now() - started)}${through === '' ? '' : ` through ${through}`}`
  )
  let hasher: RemoteHasher | undefined
  try {
    const work = workList(job)
    hasher = createHasher(job.settings, connection, work.shellFirst)
    await runSteps({ ...job, signal, connection, hasher }, work, firstSessionUp)
    await keepForSwitch(job, connection)
  } finally {
    firstSessionUp()
    hasher?.close()
    if (job.progress.release?.kept?.connection !== connection) await connection.close()
  }
}
