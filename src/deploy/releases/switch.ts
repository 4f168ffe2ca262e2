// After a host's release is made (or, for a rollback, chosen): `current` switched to it, or
// back; then the host finished (the release recorded, old ones pruned, the lock removed), or
// its release abandoned (removed, the lock too). Over the connection the release was made on
// where it is still up, else over a new one.

import { posix } from 'node:path'
import { errorMessage, oneLine, DeployError } from '../../errors.js'
import type { SftpSession, SshConnection } from '../../ssh/types.js'
import { releaseLock } from '../lock.js'
import type { HostJob } from '../types.js'
import { waitUnlessStopped } from '../wait.js'
import { historyLine, historyText, HISTORY_FILE, releasesToPrune } from './history.js'
import {
  CURRENT_LINK,
  pointCurrent,
  releaseDir,
  releaseLink,
  removeTree,
  writeWhole
} from './layout.js'
import type { ReleaseProgress } from './state.js'
import { connectionIsUp } from '../../transfer/connection-state.js'

export interface Link {
  readonly connection: SshConnection
  readonly sftp: SftpSession
}

function releaseOf(job: HostJob): ReleaseProgress {
  const { release } = job.progress
  if (release === undefined) throw new Error(`${job.host.label}: no release was begun`)
  return release
}

/** The kept connection where it is still up, else a new one (kept in its place). */
async function linkTo(job: HostJob, signal: AbortSignal): Promise<Link> {
  const release = releaseOf(job)
  const kept = release.kept
  if (kept !== undefined && connectionIsUp(kept.connection)) return kept
  release.kept = undefined
  if (kept !== undefined) await kept.connection.close().catch(() => undefined)
  const connection = await job.connect(signal)
  try {
    const link = { connection, sftp: await connection.sftp() }
    release.kept = link
    return link
  } catch (error) {
    await connection.close()
    throw error
  }
}

// What comes after a switch (or instead of one) must happen even where the run was cancelled:
// a new connection for it gets this long, whatever the run's signal says.
const AFTERWARDS_MS = 15_000

function afterwards(job: HostJob): AbortSignal {
  return AbortSignal.timeout(Math.min(AFTERWARDS_MS, job.settings.connectTimeoutMs + 5000))
}

/** Runs `step` over the host's link; where the connection fails, again over a new one (`retries`). */
export async function overLink<T>(
  job: HostJob,
  signal: AbortSignal,
  step: (link: Link) => Promise<T>,
  /** Whether `step` may run again over a new connection (false: only the connection is). */
  again = true
): Promise<T> {
  for (let attempt = 0; ; attempt += 1) {
    let link: Link | undefined
    try {
      link = await linkTo(job, signal)
      return await step(link)
    } catch (error) {
      const retry =
        (again || link === undefined) &&
        error instanceof DeployError &&
        error.retryable &&
        attempt < job.settings.retries &&
        !signal.aborted
      if (!retry) throw error
      job.log.warning(`${oneLine(error.message)}: again over a new connection`)
      await waitUnlessStopped(job.settings.retryDelayMs * 2 ** attempt, signal)
    }
  }
}

/** `current`'s link text on the host; undefined where there is none. */
async function currentTarget(sftp: SftpSession, root: string): Promise<string | undefined> {
  return sftp.readlink(posix.join(root, CURRENT_LINK)).catch((error: unknown) => {
    if (error instanceof DeployError && error.kind === 'no-such-path') return undefined
    throw error
  })
}

/** Whether `current` points to `name` (over a new connection where needed); undefined: unknown. */
async function pointsAt(job: HostJob, name: string): Promise<boolean | undefined> {
  const root = releaseOf(job).root
  return overLink(
    job,
    afterwards(job),
    async ({ sftp }) => (await currentTarget(sftp, root)) === releaseLink(name)
  ).catch(() => undefined)
}

/** Points `current` at the host's release. */
export async function switchHost(job: HostJob, signal: AbortSignal): Promise<void> {
  const release = releaseOf(job)
  job.progress.phase = 'switching'
  try {
    await overLink(job, signal, ({ sftp }) =>
      pointCurrent(sftp, release.root, release.name, job.hostToken)
    )
  } catch (error) {
    // The rename may have happened and its answer been lost: `current` says.
    if ((await pointsAt(job, release.name)) !== true) throw error
    job.log.warning(
      `${oneLine(errorMessage(error))}; current points to ${release.name} all the same`
    )
  }
  release.switched = true
  job.log.info(
    `switched ${posix.join(release.root, 'current')}: ${release.previous ?? '(none)'} → ${release.name}`
  )
}

/** Points `current` back at the release it pointed to before (removes it where there was none). */
export async function switchBack(job: HostJob): Promise<void> {
  const release = releaseOf(job)
  await overLink(job, afterwards(job), ({ sftp }) =>
    pointCurrent(sftp, release.root, release.previous, job.hostToken)
  )
  release.switched = false
  job.log.info(`switched back: current is ${release.previous ?? 'removed (there was none before)'}`)
}

async function closeLink(job: HostJob): Promise<void> {
  const release = job.progress.release
  const kept = release?.kept
  if (release === undefined || kept === undefined) return
  release.kept = undefined
  await kept.connection.close().catch(() => undefined)
}

/** The record and the releases kept, once `current` points to the release for good. */
async function recordAndPrune(job: HostJob, link: Link, release: ReleaseProgress): Promise<void> {
  const { sftp, connection } = link
  const { root, host } = release
  let names = [...host.ordered]
  let removed: string[]
  if (release.rollback) {
    // Capistrano's way: the release rolled back from goes, so the next rollback goes further.
    removed = release.previous === undefined ? [] : [release.previous]
    names = names.filter((name) => name !== release.previous)
  } else {
    names = [...names.filter((name) => name !== release.name), release.name]
    removed = releasesToPrune(names, release.name, job.settings.releases?.keep ?? 0)
  }
  for (const name of removed) await removeTree(connection, sftp, releaseDir(root, name))
  const kept = names.filter((name) => !removed.includes(name))
  // A rollback records nothing new: the release gone back to keeps its place and its line.
  const lines = release.rollback
    ? host.historyLines
    : [...host.historyLines, historyLine(release.name, new Date(), job.settings.lockHolder)]
  await writeWhole(sftp, posix.join(root, HISTORY_FILE), historyText(lines, kept), job.hostToken)
  if (removed.length > 0)
    job.log.info(
      `${release.rollback ? 'removed the release rolled back from' : `pruned (keep-releases ${job.settings.releases?.keep})`}: ${removed.join(', ')}`
    )
  const unrecorded = [...host.directories].filter(
    (name) => !kept.includes(name) && !removed.includes(name) && name !== release.name
  )
  if (unrecorded.length > 0)
    job.log.info(
      `left alone: ${unrecorded.join(', ')} under releases/ ${unrecorded.length === 1 ? 'is' : 'are'} not in ${HISTORY_FILE} (a run that stopped before its switch?); remove by hand if unwanted`
    )
}

/**
 * The host is on its release for good: recorded, older releases pruned, the lock removed, the
 * connection closed. What fails here is a warning: the switch has happened.
 */
export async function finishHost(job: HostJob): Promise<void> {
  const release = releaseOf(job)
  try {
    await overLink(job, afterwards(job), async (link) => {
      await recordAndPrune(job, link, release)
      await releaseLock(job, link.sftp, link.connection)
    })
  } catch (error) {
    job.log.warning(
      `switched, but could not finish (${oneLine(errorMessage(error))})${job.progress.lock === undefined ? '' : `: remove the lock ${job.progress.lock} by hand`}`
    )
  } finally {
    await closeLink(job)
  }
}

/**
 * The host does not switch: the release this run made is removed (`current` never pointed to
 * it), and the lock. Where that fails the error says what is left.
 */
export async function abandonHost(job: HostJob): Promise<void> {
  const release = releaseOf(job)
  try {
    await overLink(job, afterwards(job), async ({ connection, sftp }) => {
      // Never the release `current` points to (a switch whose answer was lost, say).
      if (release.made && (await currentTarget(sftp, release.root)) === releaseLink(release.name)) {
        release.switched = true
        job.log.warning(`current points to ${release.name}: it is kept`)
      } else if (release.made) {
        await removeTree(connection, sftp, releaseDir(release.root, release.name))
        release.made = false
        job.log.info(`removed the unswitched release ${release.name}`)
      }
      await releaseLock(job, sftp, connection)
    })
  } catch (error) {
    job.log.warning(
      `could not remove what this run left (${oneLine(errorMessage(error))}): ${release.made ? releaseDir(release.root, release.name) : ''} ${job.progress.lock ?? ''}`.trim()
    )
  } finally {
    await closeLink(job)
  }
}
