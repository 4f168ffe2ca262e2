// `dry-run` with `releases`: what a deploy would do to a host's releases, nothing written: the
// release it would make (refused as a real run would refuse it), which release the files would
// be compared with (the current one), and which releases a successful switch would prune; for a
// rollback, which release `current` would go back to.

import { DeployError } from '../../errors.js'
import type { ReleaseSettings } from '../../config/releases.js'
import type { SftpSession } from '../../ssh/types.js'
import type { HostJob } from '../types.js'
import { releaseBefore, releasesToPrune } from './history.js'
import { readHostReleases, releaseDir } from './layout.js'

/** A host's release plan. */
export interface ReleasePlan {
  /** The directory the files would be compared with (the current release's), if any. */
  readonly base: string | undefined
  /** The release made (a rollback: the one gone back to). */
  readonly release: string
  /** The releases removed: pruned after the switch, or the one rolled back from. */
  readonly prune: readonly string[]
}

/** Logs and returns the host's release plan; `root` is the target, there already. */
export async function planRelease(
  job: HostJob,
  release: ReleaseSettings,
  sftp: SftpSession,
  root: string
): Promise<ReleasePlan> {
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
    return { base: undefined, release: before, prune: [current] }
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
  return {
    base: current === undefined ? undefined : releaseDir(root, current),
    release: release.name,
    prune: pruned
  }
}
