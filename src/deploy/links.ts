// A symbolic link deployed as a link (`follow-symbolic-links: false`), over SFTP.

import { posix } from 'node:path'
import { DeployError } from '../errors.js'
import type { PlannedFile } from '../local/plan.js'
import { directoryInTheWay } from '../remote/failures.js'
import { temporaryPath } from '../remote/paths.js'
import type { RemoteStat } from '../ssh/types.js'
import { removeIfThere } from './cleanup.js'
import { recordDone } from './progress.js'
import type { Attempt } from './types.js'

/**
 * Skipped where the host has a link with the same target text at its path; else made under its
 * temporary name, its text read back, and renamed over the final path (replacing what is there,
 * a link included), or with `atomic: false` made in place of what is there.
 */
export async function sendLink(attempt: Attempt, file: PlannedFile): Promise<undefined> {
  const { sftp, settings, progress } = attempt
  const target = file.linkTarget as string
  const finalPath = posix.join(attempt.base, file.relativePath)
  await attempt.ensureDir(posix.dirname(finalPath))
  const existing = await sftp.lstat(finalPath)
  if (await isSameLink(attempt, file, existing)) {
    recordDone(progress, file, 'skipped')
    return undefined
  }
  const writePath = settings.atomic ? temporaryPath(finalPath, attempt.hostToken) : finalPath
  if (settings.atomic) progress.temporaries.add(writePath)
  try {
    if (settings.atomic || (existing !== undefined && !existing.isDirectory))
      await removeIfThere(sftp, writePath)
    await sftp.symlink(target, writePath)
    const made = await sftp.readlink(writePath)
    if (made !== target)
      throw new DeployError(
        'verify-mismatch',
        `'${file.relativePath}': the link made on the host points to '${made}', not '${target}'`
      )
    if (settings.atomic) {
      await sftp.posixRename(writePath, finalPath)
      progress.temporaries.delete(writePath)
    }
  } catch (error) {
    throw (await directoryInTheWay(sftp, finalPath, file.relativePath, error)) ?? error
  }
  recordDone(progress, file, 'uploaded')
  return undefined
}

/** Whether `existing`, what lstat found at the link's path, is a link with the same text. */
export async function isSameLink(
  attempt: Attempt,
  file: PlannedFile,
  existing: RemoteStat | undefined
): Promise<boolean> {
  if (existing?.isSymbolicLink !== true) return false
  return (
    (await attempt.sftp.readlink(posix.join(attempt.base, file.relativePath))) === file.linkTarget
  )
}
