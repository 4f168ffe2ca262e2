// One file over SFTP: skipped if the host has it already; else written to a temporary name
// beside its final path (continuing an earlier attempt's partial copy), verified, and renamed
// into place, the verifying and renaming going on while the next file is written.

import { posix } from 'node:path'
import { formatBytes } from '../format.js'
import { checkSent } from '../local/changes.js'
import type { PlannedFile } from '../local/plan.js'
import { temporaryPath } from '../remote/paths.js'
import { connectionIsUp } from '../transfer/connection-state.js'
import { uploadFile } from '../transfer/upload.js'
import { followLargeFile, type Following } from './follow.js'
import { runPool, type FollowUp } from './pool.js'
import { explainFailure } from './preflight.js'
import { bytesCounter, recordDone } from './progress.js'
import type { Attempt } from './types.js'
import { alreadyThere, verifyFile } from './verify.js'

/** Per file; OpenSSH's channel window is 2 MiB, so 8 MiB in flight keeps it full. */
const WRITES_IN_FLIGHT = 32

/** Where a file is written, and where it is published. */
interface Destination {
  readonly file: PlannedFile
  readonly finalPath: string
  /** The temporary name with `atomic`, else the final path. */
  readonly writePath: string
}

/** Where the upload starts: the length of an earlier attempt's partial copy, if it can go on. */
async function resumeFrom(attempt: Attempt, to: Destination): Promise<number> {
  const { settings, progress } = attempt
  if (
    !settings.atomic ||
    !settings.resume ||
    progress.parallelWritesUnsafe ||
    !progress.temporaries.has(to.writePath)
  )
    return 0
  const partial = await attempt.sftp.stat(to.writePath)
  return partial?.isFile === true && partial.size <= to.file.size ? partial.size : 0
}

/**
 * Throws the failure, explained. A partial copy is kept for the next attempt only when the
 * connection, not the copy, failed; otherwise it is removed now, while the connection allows.
 */
async function failed(
  attempt: Attempt,
  to: Destination,
  error: unknown,
  remaining: number
): Promise<never> {
  const explained = await explainFailure(attempt, error, to.file, remaining)
  if (attempt.settings.atomic && connectionIsUp(attempt.connection)) {
    await attempt.sftp
      .unlink(to.writePath)
      .then(() => attempt.progress.temporaries.delete(to.writePath))
      .catch(() => undefined)
  }
  throw explained
}

/** Writes the file from `offset`; resolves with the bytes written, checked against the plan. */
async function upload(
  attempt: Attempt,
  to: Destination,
  offset: number,
  following: Following
): Promise<number> {
  const { settings, progress, localHasher } = attempt
  const { file } = to
  const countBytes = bytesCounter(progress)
  let written = offset
  let sent: number
  try {
    sent = await uploadFile(attempt.sftp, {
      localPath: file.localPath,
      remotePath: to.writePath,
      mode: file.mode,
      offset,
      size: file.size,
      hash:
        offset === 0 && settings.verify === 'sha256'
          ? localHasher.claim(file.localPath)
          : undefined,
      writesInFlight: progress.parallelWritesUnsafe ? 1 : WRITES_IN_FLIGHT,
      reader: attempt.reader,
      onBytes: (bytes) => {
        countBytes(bytes)
        written += bytes
      },
      onAcknowledged: (bytes) => following.acknowledged(bytes)
    })
  } catch (error) {
    following.close()
    return failed(attempt, to, error, file.size - written)
  }
  try {
    const read = localHasher.known(file.localPath)
    await checkSent(file, read?.size === offset + sent ? read : undefined)
  } catch (error) {
    following.close()
    return failed(attempt, to, error, 0)
  }
  return sent
}

/** The rest of a written file's work: verified, renamed into place, counted. */
async function publish(
  attempt: Attempt,
  to: Destination,
  size: number,
  following: Following
): Promise<void> {
  try {
    await verifyFile(attempt, to.file, to.writePath, size, await following.follower).finally(
      following.close
    )
    if (attempt.settings.atomic) {
      await attempt.sftp.posixRename(to.writePath, to.finalPath)
      attempt.progress.temporaries.delete(to.writePath)
    }
  } catch (error) {
    await failed(attempt, to, error, 0)
  }
  recordDone(attempt.progress, to.file, 'uploaded')
}

/**
 * Sends one file to its temporary name (continuing an earlier attempt's partial copy) and
 * returns the rest of its work, verifying and publishing it, to run while the next file goes out.
 */
export async function sendFile(attempt: Attempt, file: PlannedFile): Promise<FollowUp | undefined> {
  const { settings, progress } = attempt
  const finalPath = posix.join(attempt.base, file.relativePath)
  await attempt.ensureDir(posix.dirname(finalPath))
  if (!attempt.unchangedFound && (await alreadyThere(attempt, file, finalPath))) {
    recordDone(progress, file, 'skipped')
    return undefined
  }
  const writePath = settings.atomic ? temporaryPath(finalPath, attempt.hostToken) : finalPath
  const to: Destination = { file, finalPath, writePath }
  // An earlier attempt of this run may have left part of this file under its temporary name.
  const offset = await resumeFrom(attempt, to)
  if (settings.atomic) progress.temporaries.add(writePath)
  const following = followLargeFile(attempt, file, writePath, offset)
  const sent = await upload(attempt, to, offset, following)
  if (offset > 0) {
    progress.resumedBytes += offset
    attempt.log.info(
      `'${file.relativePath}': continued from ${formatBytes(offset)} already on the host`
    )
  }
  return { rest: publish(attempt, to, offset + sent, following) }
}

/** Sends `files` over SFTP, `concurrency` at a time. */
export function sendOverSftp(attempt: Attempt, files: readonly PlannedFile[]): Promise<void> {
  return runPool(files, attempt.settings.concurrency, (file) => sendFile(attempt, file), {
    signal: attempt.signal
  })
}
