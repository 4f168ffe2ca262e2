// Many small files in one stream: a tar archive, read from the local files as it goes, over one
// exec channel into `tar -x` in a staging directory beside the target (same file system). Per
// file this costs no SFTP round trip. Hosts without a shell or tar answer with a failed command,
// and their files go over SFTP as usual. Publishing the staged files: staged-publish.ts.

import { readFile } from 'node:fs/promises'
import { posix } from 'node:path'
import { DeployError, errorMessage, isConnectionEnded, localFileError } from '../errors.js'
import { formatBytes } from '../format.js'
import { checkReadByPath } from '../local/changes.js'
import { readSmallNow, type LocalHasher } from '../local/digests.js'
import type { PlannedFile } from '../local/plan.js'
import type { TakenShell } from '../remote/hasher-pool.js'
import { END_LINE, hashAllowanceMs } from '../remote/shell-protocol.js'
import {
  parseStagedAnswer,
  splitTopLevel,
  type StagedAnswer,
  tarCommand,
  tarIntoShellScript
} from '../remote/tar-extract.js'
import type { SshConnection } from '../ssh/types.js'
import { removeStaging } from './staged-publish.js'
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

/**
 * Copies pieces into STREAM_CHUNK-sized buffers, each handed to the channel whole: no buffer per
 * file, no concatenation.
 */
function chunkPacker(): { put(piece: Buffer): void; readonly full: Buffer[]; last(): Buffer } {
  let chunk = Buffer.allocUnsafe(STREAM_CHUNK)
  let used = 0
  const full: Buffer[] = []
  return {
    full,
    put(piece) {
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
    },
    last: () => chunk.subarray(0, used)
  }
}

/** The archive of `job.files`, in STREAM_CHUNK pieces; first the word tarCommand waits for. */
async function* tarChunks(job: StreamJob, withGoWord: boolean): AsyncGenerator<Buffer> {
  const packer = chunkPacker()
  const scratch = Buffer.allocUnsafe(SCRATCH_SIZE)
  const zeros = Buffer.alloc(512)
  if (withGoWord) packer.put(Buffer.from('go\n'))
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
    packer.put(
      entryHeader({
        path: file.relativePath,
        type: 'file',
        mode: file.mode,
        size: content.length,
        mtime: Date.now() / 1000
      })
    )
    packer.put(content)
    packer.put(zeros.subarray(0, paddingSize(content.length)))
    while (packer.full.length > 0) yield packer.full.shift() as Buffer
  }
  packer.put(endOfArchive())
  while (packer.full.length > 0) yield packer.full.shift() as Buffer
  const last = packer.last()
  if (last.length > 0) yield last
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
  const chunks = tarChunks(job, false)
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
    if (isConnectionEnded(error) || (error instanceof DeployError && error.kind === 'local-file'))
      throw error
    return { status: undefined, message: errorMessage(error), digests: new Map() }
  } finally {
    shell.channel.close()
  }
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
    } else result = await job.connection.streamToCommand(tarCommand(stage), tarChunks(job, true))
  } catch (error) {
    // A refused channel (MaxSessions reached) leaves SFTP; a lost connection or an unreadable
    // local file is the attempt's failure.
    if (isConnectionEnded(error) || !(error instanceof DeployError) || error.kind !== 'protocol')
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
