// Many small files in one stream: a tar archive over one exec channel into `tar -x` in a staging
// directory beside the target (same file system), then each file verified there and renamed into
// its final place (in a new target, whole directories at once). Per file this costs no SFTP
// round trips until the rename. Hosts without a
// shell or tar answer with a failed command, and their files go over SFTP as usual.

import { readFile } from 'node:fs/promises'
import { posix } from 'node:path'
import { DeployError, localFileError } from '../errors.js'
import { checkReadByPath } from '../local/changes.js'
import { readSmallNow, type LocalHasher } from '../local/digests.js'
import type { PlannedFile } from '../local/plan.js'
import { type TakenShell } from '../remote/hasher-pool.js'
import { END_LINE, hashAllowanceMs } from '../remote/shell-protocol.js'
import {
  parseStagedAnswer,
  removeCommand,
  splitTopLevel,
  type StagedAnswer,
  tarCommand,
  tarIntoShellScript
} from '../remote/tar-extract.js'
import { directoryInTheWay } from '../remote/failures.js'
import { formatBytes } from '../format.js'
import type { SftpSession, SshConnection } from '../ssh/types.js'
import { endOfArchive, entryHeader, paddingSize } from './tar.js'

/** Files up to this size travel in the tar stream. */
export const TAR_MAX_FILE_SIZE = 1024 * 1024
/** Below this many small files, SFTP alone is as quick. */
export const TAR_MIN_FILES = 16
// Archive bytes are handed to the channel in pieces of this size.
const STREAM_CHUNK = 256 * 1024
// Files smaller than this are read into one reused buffer.
const SCRATCH_SIZE = 64 * 1024

/** What the stream needs: see streamSmallFiles. */
export interface StreamJob {
  readonly connection: SshConnection
  readonly localHasher: LocalHasher
  /** Whether to compute the local SHA-256 while reading the files for the stream. */
  readonly hashLocally: boolean
  /** A logged-in hashing shell to extract the stream in, where there is one (see takeShell). */
  readonly takeShell?: () => Promise<TakenShell | undefined>
  readonly idleTimeoutMs: number
  readonly stagingDir: string
  readonly files: readonly PlannedFile[]
  readonly signal: AbortSignal
  readonly onBytes: (bytes: number) => void
  readonly log: (line: string) => void
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

export type SmallFilesJob = StreamJob & PublishJob

/** The stream's outcome: staged on the host (with the digests its shell answered), or not. */
export type Streamed =
  | { readonly staged: true; readonly digests: ReadonlyMap<string, string> }
  | { readonly staged: false }

/** A small file's content: see readSmallSync; files larger than `scratch` are read whole. */
export async function readSmallFile(
  file: Pick<PlannedFile, 'localPath' | 'size' | 'relativePath' | 'identity'>,
  scratch: Buffer,
  check: boolean
): Promise<Buffer> {
  if (file.size < scratch.length)
    return readSmallNow(file.localPath, file.size, scratch, check ? file : undefined)
  let content: Buffer
  try {
    content = await readFile(file.localPath)
  } catch (error) {
    throw localFileError(file.localPath, error)
  }
  if (check) checkReadByPath(file, content)
  return content
}

async function* archive(job: StreamJob, word: boolean): AsyncGenerator<Buffer> {
  // Entries are copied into STREAM_CHUNK-sized buffers, each handed to the channel whole: no
  // buffer per file, no concatenation.
  let chunk = Buffer.allocUnsafe(STREAM_CHUNK)
  let used = 0
  const full: Buffer[] = []
  const put = (piece: Buffer): void => {
    for (let at = 0; at < piece.length;) {
      const copied = piece.copy(chunk, used, at)
      at += copied
      used += copied
      if (used === chunk.length) {
        full.push(chunk)
        chunk = Buffer.allocUnsafe(STREAM_CHUNK)
        used = 0
      }
    }
  }
  const scratch = Buffer.allocUnsafe(SCRATCH_SIZE)
  const zeros = Buffer.alloc(512)
  // The word tarCommand waits for.
  if (word) put(Buffer.from('go\n'))
  for (const file of job.files) {
    if (job.signal.aborted) throw job.signal.reason
    // A read whose content is compared with no digest taken elsewhere is checked against what
    // the plan found; another host's read of the file is compared with the digest of the first.
    const check = !job.hashLocally || job.localHasher.known(file.localPath) === undefined
    // Read without a turn of the event loop where the file fits the scratch buffer.
    const content =
      file.size < scratch.length
        ? readSmallNow(file.localPath, file.size, scratch, check ? file : undefined)
        : await readSmallFile(file, scratch, check)
    if (job.hashLocally) job.localHasher.record(file.localPath, content)
    put(
      entryHeader({
        path: file.relativePath,
        type: 'file',
        mode: file.mode,
        size: content.length,
        mtime: Date.now() / 1000
      })
    )
    put(content)
    put(zeros.subarray(0, paddingSize(content.length)))
    while (full.length > 0) yield full.shift() as Buffer
  }
  put(endOfArchive())
  while (full.length > 0) yield full.shift() as Buffer
  if (used > 0) yield chunk.subarray(0, used)
}

/**
 * The most a staged answer can hold: a digest line (or one of tar's messages) per file, each
 * about its path and a hundred characters more.
 */
function stagedAnswerBound(files: readonly PlannedFile[]): number {
  return files.reduce((sum, file) => sum + file.relativePath.length + 160, 64 * 1024)
}

/**
 * The stream into a hashing shell (tarIntoShellScript). The archive's first chunk is read before
 * the shell is asked for, so a local file that cannot be read stops the attempt before anything
 * is created on the host, as tarCommand's word does. Undefined when no shell is to be had.
 */
async function streamIntoShell(job: StreamJob, bytes: number): Promise<StagedAnswer | undefined> {
  const chunks = archive(job, false)
  const first = await chunks.next()
  const shell = await job.takeShell?.()
  if (shell === undefined) {
    await chunks.return(undefined)
    return undefined
  }
  try {
    const going = shell.channel.request(
      tarIntoShellScript(
        job.stagingDir,
        shell.hasher,
        splitTopLevel(job.files.map((file) => file.relativePath)),
        posix.basename(job.stagingDir)
      ),
      'sfd-go',
      job.idleTimeoutMs
    )
    // Waited for at once: when tar fails at once, its answer comes in the same packet as `sfd-go`.
    const answer = shell.channel.request(
      '',
      END_LINE,
      hashAllowanceMs(job.idleTimeoutMs, bytes),
      stagedAnswerBound(job.files)
    )
    answer.catch(() => undefined)
    if ((await going).includes('sfd-nogo'))
      return { status: 3, message: 'cannot create the staging directory', digests: new Map() }
    await shell.channel.send(
      (async function* () {
        if (first.done !== true) yield first.value
        yield* chunks
      })()
    )
    return parseStagedAnswer(await answer)
  } catch (error) {
    // A lost connection or an unreadable local file fails the attempt; a shell that died
    // (killed, say) counts as a failed command.
    if (
      job.connection.failure !== undefined ||
      (error instanceof DeployError && error.kind === 'local-file')
    )
      throw error
    return {
      status: undefined,
      message: error instanceof Error ? error.message : String(error),
      digests: new Map()
    }
  } finally {
    shell.channel.close()
  }
}

/**
 * Sends `job.files` as one tar stream and publishes them. Returns the files it could not handle
 * because the host cannot extract a tar stream (no shell, no tar): those go over SFTP.
 */
export async function sendSmallFiles(job: SmallFilesJob): Promise<readonly PlannedFile[]> {
  const streamed = await streamSmallFiles(job)
  if (!streamed.staged) return job.files
  await publishSmallFiles(job, streamed.digests)
  return []
}

/**
 * Sends `job.files` as one tar stream into the staging directory. Not staged where the host
 * cannot extract a tar stream (no shell, no tar, no channel left): the staging directory is
 * removed and the files are to go over SFTP.
 */
export async function streamSmallFiles(job: StreamJob): Promise<Streamed> {
  const stage = job.stagingDir
  const bytes = job.files.reduce((sum, file) => sum + file.size, 0)
  let result
  let digests: ReadonlyMap<string, string> = new Map()
  try {
    const staged = await streamIntoShell(job, bytes)
    if (staged !== undefined) {
      result = { code: staged.status ?? null, signal: undefined, stderr: staged.message }
      // A name with a line break could make a line of the answer that names another file.
      if (!job.files.some((file) => file.relativePath.includes('\n'))) digests = staged.digests
    } else result = await job.connection.streamToCommand(tarCommand(stage), archive(job, true))
  } catch (error) {
    // A refused channel (MaxSessions reached) leaves SFTP; a lost connection or an unreadable
    // local file is the attempt's failure.
    if (
      job.connection.failure !== undefined ||
      !(error instanceof DeployError) ||
      error.kind !== 'protocol'
    )
      throw error
    job.log(
      `the host refused a channel for a tar stream (${error.message}); sending ${job.files.length} small files over SFTP`
    )
    return { staged: false }
  }
  if (result.code !== 0) {
    await removeStaging(job.connection, undefined, stage)
    job.log(
      `sending ${job.files.length} small files as one tar stream failed (exit ${result.code ?? result.signal ?? '?'}: ${result.stderr.trim().split('\n')[0] ?? ''}); sending them over SFTP`
    )
    return { staged: false }
  }
  job.onBytes(bytes)
  job.log(`${job.files.length} small files (${formatBytes(bytes)}) sent as one tar stream`)
  return { staged: true, digests }
}

/**
 * Verifies the staged files (`digests`: the host's, where its shell answered them already) and
 * renames each into place; removes the staging directory.
 */
export async function publishSmallFiles(
  job: PublishJob,
  digests: ReadonlyMap<string, string>
): Promise<void> {
  const stage = job.stagingDir

  // Every staged file is queued for hashing at once, so the hashing shells take full batches;
  // each is renamed into place as soon as its hash is in. In a target this attempt created, a
  // top-level directory goes whole once all its files are verified: one rename instead of one
  // per file (10,000 files in 100 directories: 100 renames). The rename fails where the
  // directory is already there with something in it (a file sent over SFTP meanwhile), and its
  // files go one by one.
  const state: { failure?: Error } = {}
  const fail = (error: unknown): void => {
    state.failure ??= error instanceof Error ? error : new Error(String(error))
  }
  const stagedPath = (file: PlannedFile): string => posix.join(stage, file.relativePath)
  const renameOne = async (file: PlannedFile): Promise<void> => {
    const finalPath = posix.join(job.base, file.relativePath)
    await job.ensureDir(posix.dirname(finalPath))
    try {
      await job.sftp.posixRename(stagedPath(file), finalPath)
    } catch (error) {
      if (job.connection.failure !== undefined) throw error
      throw (await directoryInTheWay(job.sftp, finalPath, file.relativePath, error)) ?? error
    }
    job.onPublished(file)
  }
  // Verified at once where both digests are in (throws on a mismatch); else a promise.
  const verify = (file: PlannedFile): Promise<void> | undefined => {
    const sha256 = digests.get(file.relativePath)
    if (sha256 !== undefined && job.checkStaged?.(file, sha256) === true) return undefined
    return job.verifyStaged(file, stagedPath(file), sha256)
  }
  const publish = async (file: PlannedFile): Promise<void> => {
    try {
      await verify(file)
      if (state.failure === undefined) await renameOne(file)
    } catch (error) {
      fail(error)
    }
  }
  const moved = new Set<string>()
  const publishDirectory = async (top: string, files: readonly PlannedFile[]): Promise<void> => {
    const waiting: Promise<void>[] = []
    for (const file of files)
      try {
        const pending = verify(file)
        if (pending !== undefined) waiting.push(pending)
      } catch (error) {
        fail(error)
      }
    const verified = await Promise.allSettled(waiting)
    for (const outcome of verified) if (outcome.status === 'rejected') fail(outcome.reason)
    if (state.failure !== undefined) return
    try {
      await job.sftp.posixRename(posix.join(stage, top), posix.join(job.base, top))
    } catch (error) {
      if (job.connection.failure !== undefined) return fail(error)
      await Promise.all(files.map((file) => renameOne(file).catch(fail)))
      return
    }
    moved.add(top)
    for (const file of files) job.onPublished(file)
  }
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
  try {
    await Promise.all([
      ...alone.map(publish),
      ...[...byDirectory].map(([top, files]) => publishDirectory(top, files))
    ])
    if (state.failure !== undefined) throw state.failure
    if (moved.size > 0)
      job.log(
        `published ${moved.size} whole director${moved.size === 1 ? 'y' : 'ies'} into the new target`
      )
  } finally {
    if (job.connection.failure === undefined) {
      const left = job.files.filter((file) => !moved.has(file.relativePath.split('/')[0] ?? ''))
      await removeStaging(job.connection, job.sftp, stage, left)
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
