// `dry-run` with `releases`: what a deploy would do to a host's releases, nothing written: the
// release it would make (refused as a real run would refuse it), which release the files would
// be compared with (the current one), and which releases a successful switch would prune; for a
// rollback, which release `current` would go back to.

import { DeployError } from '../../errors.js'
import type { SftpSession } from '../../ssh/types.js'
import type { HostJob } from '../types.js'
import { releaseBefore, releasesToPrune } from './history.js'
import { readHostReleases, releaseDir } from './layout.js'

/**
 * Logs the host's release plan. Returns the directory the files would be compared with (the
 * current release's), or undefined where there is none (every file would be sent).
 */
export async function planRelease(
  job: HostJob,
  sftp: SftpSession,
  root: string
): Promise<string | undefined> {
  const release = job.settings.releases
  if (release === undefined) return root
  const host = await readHostReleases(sftp, root)
  const { current } = host
  if (release.rollback) {
    const before = current === undefined ? undefined : releaseBefore(host.ordered, current)
    if (current === undefined || before === undefined)
      throw new DeployError(
        'release',
        current === undefined
          ? `nothing to roll back: ${root}/current is not there`
          : `no release before ${current} to roll back to`
      )
    job.log.info(
      `plan: current would go back from ${current} to ${before}, and ${current} be removed`
    )
    return undefined
  }
  if (host.directories.has(release.name))
    throw new DeployError(
      'release',
      `release ${release.name} is on the host already (${releaseDir(root, release.name)}): a release is never overwritten; give another release-name`
    )
  const pruned = releasesToPrune([...host.ordered, release.name], release.name, release.keep)
  job.log.info(
    `plan: release ${release.name} would be made${current === undefined ? ' (the first here)' : `, unchanged files linked from ${current}`}; then current switched to it${pruned.length > 0 ? `, and ${pruned.join(', ')} pruned` : ''}`
  )
  return current === undefined ? undefined : releaseDir(root, current)
}
