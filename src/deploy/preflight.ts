// Checks before anything is sent (the target writable, room for the files, no symbolic link in
// the way, the rename that publishes), and the explanation of a write that failed anyway.

import { posix } from 'node:path'
import { DeployError, errorMessage, isConnectionEnded } from '../errors.js'
import { formatBytes } from '../format.js'
import type { PlannedFile } from '../local/plan.js'
import { directoryInTheWay } from '../remote/failures.js'
import { PREFLIGHT_PREFIX } from '../remote/paths.js'
import { freeSpaceCommand, parseFreeSpace } from '../remote/target-probe.js'
import { runPool } from './pool.js'
import { attemptToken, type Attempt } from './types.js'

// Directories (and with `atomic: false`, files) looked at for links at once.
const LINK_CHECKS_IN_FLIGHT = 32

/** Free space at `dir`: statvfs over SFTP, else `df -Pk` where the host has a shell. */
async function freeSpace(
  attempt: Attempt,
  dir: string
): Promise<{ bytes: number; readOnly: boolean } | undefined> {
  const space = await attempt.sftp.statvfs(dir).catch(() => undefined)
  if (space !== undefined) return { bytes: space.availableBytes, readOnly: space.readOnly }
  const result = await attempt.connection.exec(freeSpaceCommand(dir)).catch(() => undefined)
  const bytes = result?.code === 0 ? parseFreeSpace(result.stdout.split('\n')) : undefined
  return bytes === undefined ? undefined : { bytes, readOnly: false }
}

/**
 * SFTP's FAILURE status covers a full disk, a quota, a read-only file system and more: look at
 * the space left so the message says which.
 */
export async function explainFailure(
  attempt: Attempt,
  error: unknown,
  file: PlannedFile,
  remaining: number
): Promise<unknown> {
  if (isConnectionEnded(error)) return error
  if (!(error instanceof DeployError) || error.kind !== 'remote-failure') return error
  const finalPath = posix.join(attempt.base, file.relativePath)
  const inTheWay = await directoryInTheWay(attempt.sftp, finalPath, file.relativePath, error)
  if (inTheWay !== undefined) return inTheWay
  const dir = posix.dirname(finalPath)
  const space = await freeSpace(attempt, dir).catch(() => undefined)
  const where = attempt.host.label
  if (space?.readOnly === true)
    return new DeployError(
      'permission',
      `the file system of '${dir}' on ${where} is read-only (while writing '${file.relativePath}')`,
      { cause: error }
    )
  if (space !== undefined && space.bytes < Math.max(remaining, 1) + 64 * 1024)
    return new DeployError(
      'disk-full',
      `disk full on ${where} while writing '${file.relativePath}': ${formatBytes(space.bytes)} free in '${dir}', ${formatBytes(remaining)} still to write`,
      { cause: error }
    )
  return new DeployError(
    'remote-failure',
    `${error.message}${space === undefined ? '' : ` (${formatBytes(space.bytes)} free in '${dir}', so not for lack of space: a quota or file size limit?)`}`,
    { cause: error }
  )
}

/** The paths below the target to look at for links, by depth (see refuseLinksInTarget). */
function pathsByDepth(attempt: Attempt, files: readonly PlannedFile[]): Set<string>[] {
  const byDepth: Set<string>[] = []
  for (const file of files) {
    const segments = file.relativePath.split('/')
    // A file renamed into place, or a link made in place, replaces what is at its path.
    const replaced = attempt.settings.atomic || file.linkTarget !== undefined
    const last = replaced ? segments.length - 1 : segments.length
    for (let depth = 1; depth <= last; depth += 1)
      (byDepth[depth - 1] ??= new Set()).add(segments.slice(0, depth).join('/'))
  }
  return byDepth
}

/**
 * Nothing is written through a symbolic link found inside the target (the target itself may be
 * one): before anything is sent, every directory below the target that the files to send go
 * into is looked at, and with `atomic: false` every file they are written over (a rename over a
 * link replaces the link, but writing in place would write where it points; a link deployed as
 * a link replaces what is there either way). A link fails the host, naming the link and what it
 * points to. A directory that is not there has nothing below it to look at.
 */
async function refuseLinksInTarget(attempt: Attempt, files: readonly PlannedFile[]): Promise<void> {
  const { sftp, base } = attempt
  const sent = new Set(files.map((file) => file.relativePath))
  const missing = new Set<string>()
  for (const paths of pathsByDepth(attempt, files)) {
    const present: string[] = []
    for (const path of paths)
      if (missing.has(posix.dirname(path))) missing.add(path)
      else present.push(path)
    const lookAt = async (path: string): Promise<undefined> => {
      const remotePath = posix.join(base, path)
      const found = await sftp.lstat(remotePath)
      if (found === undefined) missing.add(path)
      else if (found.isSymbolicLink) {
        const pointsTo = await sftp.readlink(remotePath).catch(() => '?')
        throw new DeployError(
          'remote-failure',
          `'${remotePath}' on the host is a symbolic link (to '${pointsTo}') inside the target: nothing is written through a link there; replace it with ${sent.has(path) ? 'a real file' : 'a directory'}, or point target at where it leads`
        )
      }
      return undefined
    }
    await runPool(present, LINK_CHECKS_IN_FLIGHT, lookAt, { signal: attempt.signal })
  }
}

/** Creates and removes a probe file in the target: the surest test that writing works there. */
async function checkWritable(attempt: Attempt): Promise<void> {
  const { sftp, base } = attempt
  const probe = posix.join(base, `${PREFLIGHT_PREFIX}${attemptToken(attempt)}`)
  try {
    await sftp.close(await sftp.open(probe, 'w', 0o600))
    await sftp.unlink(probe)
  } catch (error) {
    if (isConnectionEnded(error)) throw error
    const space = await sftp.statvfs(base).catch(() => undefined)
    throw new DeployError(
      space?.readOnly === true
        ? 'permission'
        : error instanceof DeployError
          ? error.kind
          : 'remote-failure',
      `preflight: cannot write in target '${base}' on ${attempt.host.label}: ${space?.readOnly === true ? 'the file system is read-only' : errorMessage(error)}`,
      { cause: error }
    )
  }
}

/** The target is writable and has room for `files`. */
async function checkWritableWithRoom(
  attempt: Attempt,
  files: readonly PlannedFile[]
): Promise<void> {
  const { base } = attempt
  await checkWritable(attempt)
  const needed = files.reduce((sum, file) => sum + file.size, 0)
  const space = await freeSpace(attempt, base)
  if (space !== undefined && space.bytes < needed)
    throw new DeployError(
      'disk-full',
      `preflight: not enough space on ${attempt.host.label}: ${formatBytes(space.bytes)} free in '${base}', ${formatBytes(needed)} to send`
    )
  if (attempt.progress.attempts === 1)
    attempt.log.info(
      `preflight: target writable, ${space === undefined ? 'free space unknown' : `${formatBytes(space.bytes)} free`}, ${formatBytes(needed)} to send`
    )
}

/**
 * Before `files` are sent: no link in the target in their way; with `preflight`, the target
 * writable with room for them (unless the hashing shell made it and found the room); with
 * `atomic`, the server able to publish by rename.
 */
export async function checkBeforeSending(
  attempt: Attempt,
  files: readonly PlannedFile[],
  shellFoundRoom: boolean
): Promise<void> {
  if (files.length === 0) return
  if (!attempt.targetIsNew) await refuseLinksInTarget(attempt, files)
  if (attempt.settings.preflight && !shellFoundRoom) await checkWritableWithRoom(attempt, files)
  if (attempt.settings.atomic && !attempt.sftp.hasPosixRename) {
    // A read-only server offers no rename either: say which it is.
    await checkWritable(attempt)
    throw new DeployError(
      'protocol',
      "the server's SFTP does not offer posix-rename@openssh.com, needed to publish files atomically; set 'atomic: false' to write files in place"
    )
  }
}
