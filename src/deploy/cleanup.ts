// After a host has failed for good: the temporary files and staging directories this run left
// there, removed over a new short connection (the last one may be gone).

import { DeployError } from '../errors.js'
import type { SftpSession, SshConnection } from '../ssh/types.js'
import { removeStaging } from '../transfer/staged-publish.js'
import { releaseLock } from './lock.js'
import type { HostJob } from './types.js'
import { releaseDir, removeTree } from './releases/layout.js'

/** Removes the file or link at `path`; nothing there is as good as removed. */
export async function removeIfThere(sftp: SftpSession, path: string): Promise<void> {
  await sftp.unlink(path).catch((error: unknown) => {
    if (!(error instanceof DeployError && error.kind === 'no-such-path')) throw error
  })
}

/** Removes what this run left on the host. Returns what could not be removed. */
export async function removeTemporaries(job: HostJob, signal: AbortSignal): Promise<string[]> {
  const { progress } = job
  const { release } = progress
  const releaseLeft = release?.made === true && !release.switched
  // The connection a release was made over is not used again after a failure.
  if (release?.kept !== undefined) {
    await release.kept.connection.close().catch(() => undefined)
    release.kept = undefined
  }
  if (
    progress.temporaries.size === 0 &&
    progress.stagingDirs.size === 0 &&
    progress.lock === undefined &&
    !releaseLeft
  )
    return []
  const connection = await job.connect(signal)
  try {
    const sftp = await connection.sftp()
    // The release first: the lock guards it until it is gone.
    await removeLeftRelease(job, connection, sftp)
    await releaseLock(job, sftp, connection, true).catch(() => undefined)
    for (const path of [...progress.temporaries])
      await removeIfThere(sftp, path)
        .then(() => progress.temporaries.delete(path))
        .catch(() => undefined)
    for (const dir of [...progress.stagingDirs])
      if (await removeStaging(connection, sftp, dir)) progress.stagingDirs.delete(dir)
  } finally {
    await connection.close()
  }
  return [
    ...progress.temporaries,
    ...progress.stagingDirs,
    ...(progress.lock === undefined ? [] : [progress.lock]),
    ...(release?.made === true && !release.switched ? [releaseDir(release.root, release.name)] : [])
  ]
}

/**
 * After a cancellation: this host's lock removed over a new connection, and before it an
 * unswitched release this run made (one `rm -rf`: quick, unlike temporaries, which wait for
 * the next run).
 */
export async function removeLockAndRelease(job: HostJob, signal: AbortSignal): Promise<void> {
  const connection = await job.connect(signal)
  try {
    const sftp = await connection.sftp()
    await removeLeftRelease(job, connection, sftp)
    await releaseLock(job, sftp, connection, true)
  } finally {
    await connection.close()
  }
}

/** The release this run made and did not switch to, removed (where it can be). */
async function removeLeftRelease(
  job: HostJob,
  connection: SshConnection,
  sftp: SftpSession
): Promise<void> {
  const { release } = job.progress
  if (release?.made !== true || release.switched) return
  await removeTree(connection, sftp, releaseDir(release.root, release.name))
    .then(() => {
      release.made = false
      job.log.info(`removed this run's unfinished release ${release.name}`)
    })
    .catch(() => undefined)
}
