// The files a tar stream staged on the host (tar-stream.ts), published: each verified there and
// renamed into its final place (in a new target, whole directories at once), then the staging
// directory removed.

import { posix } from 'node:path'
import { isConnectionEnded } from '../errors.js'
import type { PlannedFile } from '../local/plan.js'
import { directoryInTheWay } from '../remote/failures.js'
import { STAGING_PREFIX } from '../remote/paths.js'
import { removeCommand } from '../remote/tar-extract.js'
import type { SftpSession, SshConnection } from '../ssh/types.js'
import { connectionIsUp } from './connection-state.js'

/** The staging directory of a tar stream into `base`, named for the attempt (`token`). */
export function stagingPath(base: string, token: string): string {
  return posix.join(base, `${STAGING_PREFIX}${token}`)
}

/** What publishing the staged files needs: see publishSmallFiles. */
export interface PublishJob {
  readonly connection: SshConnection
  readonly sftp: SftpSession
  /**
   * Verifies a staged copy as any uploaded file is verified (the `verify` input); `sha256` is
   * its digest on the host where that is known already.
   */
  readonly verifyStaged: (file: PlannedFile, stagedPath: string, sha256?: string) => Promise<void>
  /**
   * Verifies a staged copy against the host's digest `sha256` at once, where the local digest is
   * in already: true when it matches, false when it cannot tell now; throws as verifyStaged
   * rejects.
   */
  readonly checkStaged?: (file: PlannedFile, sha256: string) => boolean
  /** Absolute target directory on the host. */
  readonly base: string
  /** This attempt created the target: nothing was there before. */
  readonly targetIsNew: boolean
  readonly stagingDir: string
  readonly ensureDir: (dir: string) => Promise<void>
  readonly files: readonly PlannedFile[]
  /** A file was published (verified and renamed into place). */
  readonly onPublished: (file: PlannedFile) => void
  readonly log: (line: string) => void
}

/** One publishing under way. */
interface Publishing {
  readonly job: PublishJob
  /** The host's digests of staged files, where its shell answered them with the stream. */
  readonly digests: ReadonlyMap<string, string>
  /** The first failure: nothing is renamed into place after it. */
  failure?: { readonly error: unknown }
  /** Top-level directories renamed into place whole. */
  readonly moved: Set<string>
}

function fail(publishing: Publishing, error: unknown): void {
  publishing.failure ??= { error }
}

function stagedPath(publishing: Publishing, file: PlannedFile): string {
  return posix.join(publishing.job.stagingDir, file.relativePath)
}

async function renameOne(publishing: Publishing, file: PlannedFile): Promise<void> {
  const { job } = publishing
  const finalPath = posix.join(job.base, file.relativePath)
  await job.ensureDir(posix.dirname(finalPath))
  try {
    await job.sftp.posixRename(stagedPath(publishing, file), finalPath)
  } catch (error) {
    if (isConnectionEnded(error)) throw error
    throw (await directoryInTheWay(job.sftp, finalPath, file.relativePath, error)) ?? error
  }
  job.onPublished(file)
}

/** Verified at once where both digests are in (throws on a mismatch); else a promise. */
function verify(publishing: Publishing, file: PlannedFile): Promise<void> | undefined {
  const { job } = publishing
  const sha256 = publishing.digests.get(file.relativePath)
  if (sha256 !== undefined && job.checkStaged?.(file, sha256) === true) return undefined
  return job.verifyStaged(file, stagedPath(publishing, file), sha256)
}

async function publishFile(publishing: Publishing, file: PlannedFile): Promise<void> {
  try {
    await verify(publishing, file)
    if (publishing.failure === undefined) await renameOne(publishing, file)
  } catch (error) {
    fail(publishing, error)
  }
}

/**
 * A top-level directory of a new target, renamed into place whole once all its files are
 * verified. Where that rename fails (the directory is there already with something in it: a
 * file sent over SFTP meanwhile), its files go one by one.
 */
async function publishDirectory(
  publishing: Publishing,
  top: string,
  files: readonly PlannedFile[]
): Promise<void> {
  const { job } = publishing
  const waiting: Promise<void>[] = []
  for (const file of files)
    try {
      const pending = verify(publishing, file)
      if (pending !== undefined) waiting.push(pending)
    } catch (error) {
      fail(publishing, error)
    }
  const verified = await Promise.allSettled(waiting)
  for (const outcome of verified)
    if (outcome.status === 'rejected') fail(publishing, outcome.reason)
  if (publishing.failure !== undefined) return
  try {
    await job.sftp.posixRename(posix.join(job.stagingDir, top), posix.join(job.base, top))
  } catch (error) {
    if (isConnectionEnded(error)) return fail(publishing, error)
    await Promise.all(
      files.map((file) =>
        renameOne(publishing, file).catch((failure: unknown) => fail(publishing, failure))
      )
    )
    return
  }
  publishing.moved.add(top)
  for (const file of files) job.onPublished(file)
}

/** Files to publish one by one, and (in a new target) the others by top-level directory. */
function groupByTopDirectory(job: PublishJob): {
  alone: PlannedFile[]
  byDirectory: Map<string, PlannedFile[]>
} {
  const byDirectory = new Map<string, PlannedFile[]>()
  const alone: PlannedFile[] = []
  for (const file of job.files) {
    const slash = file.relativePath.indexOf('/')
    if (!job.targetIsNew || slash < 0) {
      alone.push(file)
      continue
    }
    const top = file.relativePath.slice(0, slash)
    const members = byDirectory.get(top)
    if (members === undefined) byDirectory.set(top, [file])
    else members.push(file)
  }
  return { alone, byDirectory }
}

/**
 * Verifies the staged files (`digests`: the host's, where its shell answered them already) and
 * renames each into place; removes the staging directory. Every staged file is queued for
 * hashing at once, so the hashing shells take full batches; each is renamed into place as soon
 * as its hash is in. In a target this attempt created, a top-level directory goes whole once all
 * its files are verified: one rename instead of one per file.
 */
export async function publishSmallFiles(
  job: PublishJob,
  digests: ReadonlyMap<string, string>
): Promise<void> {
  const publishing: Publishing = { job, digests, moved: new Set() }
  const { alone, byDirectory } = groupByTopDirectory(job)
  try {
    await Promise.all([
      ...alone.map((file) => publishFile(publishing, file)),
      ...[...byDirectory].map(([top, files]) => publishDirectory(publishing, top, files))
    ])
    if (publishing.failure !== undefined) throw publishing.failure.error
    const { moved } = publishing
    if (moved.size > 0)
      job.log(
        `published ${moved.size} whole director${moved.size === 1 ? 'y' : 'ies'} into the new target`
      )
  } finally {
    if (connectionIsUp(job.connection)) {
      const left = job.files.filter(
        (file) => !publishing.moved.has(file.relativePath.split('/')[0] ?? '')
      )
      await removeStaging(job.connection, job.sftp, job.stagingDir, left)
    }
  }
}

/** The staging directory's subdirectories for `files`, deepest first, then itself. */
function stagingDirectories(stage: string, files: readonly PlannedFile[]): string[] {
  const dirs = new Set<string>()
  for (const file of files)
    for (let dir = posix.dirname(file.relativePath); dir !== '.'; dir = posix.dirname(dir))
      dirs.add(dir)
  return [...dirs]
    .sort((a, b) => b.split('/').length - a.split('/').length)
    .map((dir) => posix.join(stage, dir))
    .concat(stage)
}

/**
 * Removes a staging directory: emptied by the renames, it goes with a few SFTP rmdirs; anything
 * left in it (after a failure) goes with `rm -rf`. Says whether it is gone.
 */
export async function removeStaging(
  connection: SshConnection,
  sftp: SftpSession | undefined,
  stage: string,
  files?: readonly PlannedFile[]
): Promise<boolean> {
  if (sftp !== undefined && files !== undefined) {
    try {
      for (const dir of stagingDirectories(stage, files)) await sftp.rmdir(dir)
      return true
    } catch {
      // not empty: fall through
    }
  }
  const result = await connection.exec(removeCommand(stage)).catch(() => undefined)
  return result?.code === 0
}
