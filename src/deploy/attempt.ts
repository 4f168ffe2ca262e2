// One attempt at one host: connect, check the target (preflight), create directories, and for
// each file not yet done — skip it if the host already has it, else write it to a temporary name
// beside its final path (continuing an earlier attempt's partial copy), verify it, and rename it
// into place. A retry runs this again with the files still to do.

import { readFileSync } from 'node:fs'
import { posix } from 'node:path'
import type { ChunkReader } from '../local/chunk-reader.js'
import { formatDuration } from '../config/duration.js'
import { ChannelRefusedError, DeployError } from '../errors.js'
import { hostKeyAlgorithms, hostKeyChecker } from '../config/host-key.js'
import type { HostTarget } from '../config/host-list.js'
import type { Settings } from '../action/inputs.js'
import { changedOnRunner, checkIdentity, checkSent } from '../local/changes.js'
import type { LocalDigest, LocalHasher } from '../local/digests.js'
import type { Plan, PlannedFile } from '../local/plan.js'
import { followInShell, followRemoteHash, type RemoteFollower } from '../remote/follower.js'
import { createRemoteHasher, GROW_BACKLOG, type RemoteHasher } from '../remote/hasher-pool.js'
import { readBackHash } from '../remote/read-back.js'
import { END_LINE, type RemoteDigest } from '../remote/shell-protocol.js'
import {
  freeSpaceCommand,
  parseFreeSpace,
  parseTargetProbe,
  targetProbeScript
} from '../remote/target-probe.js'
import { directoryInTheWay } from '../remote/failures.js'
import { temporaryPath } from '../remote/paths.js'
import { formatBytes } from '../format.js'
import { sendSmallFiles } from '../transfer/small-files.js'
import { publishSmallFiles, removeStaging } from '../transfer/staged-publish.js'
import {
  streamSmallFiles,
  TAR_MAX_FILE_SIZE,
  TAR_MIN_FILES,
  type Streamed
} from '../transfer/tar-stream.js'
import type { SessionGate } from './session-gate.js'
import { connect } from '../ssh/connect.js'
import { type SftpSession, type SshConnection } from '../ssh/types.js'
import { uploadFile } from '../transfer/upload.js'

export interface HostLog {
  info(line: string): void
  warning(line: string): void
}

/** What one host has done so far, kept across its attempts. */
export interface HostProgress {
  attempts: number
  bytes: number
  resumedBytes: number
  uploaded: number
  skipped: number
  /** Relative paths published (or found identical) on this host. */
  readonly done: Set<string>
  /** Temporary paths this run may have left on the host (written, not yet renamed or removed). */
  readonly temporaries: Set<string>
  /** Staging directories of tar streams this run may have left on the host. */
  readonly stagingDirs: Set<string>
  /** After a hash mismatch: one write in flight per file, and no resuming, from then on. */
  cautious: boolean
  /** Once told, the log does not repeat that the host verifies by reading back. */
  toldReadBack: boolean
}

export function createHostProgress(): HostProgress {
  return {
    attempts: 0,
    bytes: 0,
    resumedBytes: 0,
    uploaded: 0,
    skipped: 0,
    done: new Set(),
    temporaries: new Set(),
    stagingDirs: new Set(),
    cautious: false,
    toldReadBack: false
  }
}

export interface HostJob {
  readonly host: HostTarget
  readonly settings: Settings
  readonly plan: Plan
  readonly localHasher: LocalHasher
  /**
   * Per run and host: the names this host's files take on the server while they are written
   * (deterministic, so a retry finds its partial copy) are this host's own, apart from another
   * run's and from another host's of this run (two entries may share one login directory).
   */
  readonly hostToken: string
  readonly log: HostLog
  readonly progress: HostProgress
  /** Local file data for the whole run: read once, shared by the hosts, bounded in memory. */
  readonly reader: ChunkReader
  /** Hash large files on the host as they arrive even when the host is this machine (tests). */
  readonly followOnThisMachine: boolean
  /** Shared by the hosts of the run: each host's first session goes before their second ones. */
  readonly sessions: SessionGate
}

/** This host's attempt under way, for the names it alone uses. */
function attemptToken(job: HostJob): string {
  return `${job.hostToken}-${job.progress.attempts}`
}

/** The staging directory of this attempt's tar stream, in `base`. */
function stagingPath(base: string, job: HostJob): string {
  return posix.join(base, `.sfd-stage-${attemptToken(job)}`)
}

// Internal limits not worth an input.
const KEEPALIVE_COUNT_MAX = 3
/** Exec channels for hashing; with the SFTP channel, 3 of OpenSSH's default MaxSessions (10). */
const HASH_CHANNELS = 2
/** Per file; OpenSSH's channel window is 2 MiB, so 8 MiB in flight keeps it full. */
const WRITES_IN_FLIGHT = 32
/** Files at least this large are compared by size before anyone hashes them. */
const SIZE_CHECK_FIRST = 1024 * 1024
/** Files at least this large may be hashed on the server while they are written... */
const FOLLOW_MIN_SIZE = 64 * 1024 * 1024
/** ...decided once this much has arrived... */
const FOLLOW_AFTER = 8 * 1024 * 1024
/** ...at most this many at once per connection, each on its own exec channel. */
const FOLLOW_CHANNELS = 2

/** Creates directories like `mkdir -p`, each at most once per connection. */
function directoryMaker(sftp: SftpSession): (dir: string) => Promise<void> {
  const made = new Map<string, Promise<void>>()
  const ensureOne = async (dir: string): Promise<void> => {
    const existing = await sftp.stat(dir)
    if (existing?.isDirectory) return
    if (existing !== undefined)
      throw new DeployError('remote-failure', `'${dir}' exists on the host and is not a directory`)
    try {
      await sftp.mkdir(dir)
    } catch (error) {
      // Another writer may have created it meanwhile.
      const now = await sftp.stat(dir)
      if (now?.isDirectory) return
      if (now === undefined && error instanceof DeployError && error.kind === 'remote-failure')
        throw new DeployError(
          'no-such-path',
          `cannot create directory '${dir}': something is in the way (a dangling symbolic link?) and it still does not exist`,
          { cause: error }
        )
      throw error
    }
    const created = await sftp.stat(dir)
    if (created?.isDirectory !== true)
      throw new DeployError(
        'no-such-path',
        `directory '${dir}' does not exist after it was created`
      )
  }
  const ensure = (dir: string): Promise<void> => {
    if (dir === '/' || dir === '.' || dir === '') return Promise.resolve()
    let pending = made.get(dir)
    if (pending === undefined) {
      pending = ensure(posix.dirname(dir)).then(() => ensureOne(dir))
      made.set(dir, pending)
    }
    return pending
  }
  return ensure
}

/** The rest of an item's work. (A promise cannot be returned bare: awaiting would wait for it.) */
export interface FollowUp {
  readonly rest: Promise<void>
}

/**
 * Runs `worker` over `items`, `limit` at a time. A worker may return a follow-up (the rest of
 * that item's work: verifying and publishing) that goes on while its lane takes the next item;
 * at most `maxFollowUps` are pending. The first failure stops new work.
 */
export async function runPool<T>(
  items: readonly T[],
  limit: number,
  signal: AbortSignal,
  worker: (item: T) => Promise<FollowUp | undefined>,
  maxFollowUps = 1024
): Promise<void> {
  let next = 0
  const state: { failure?: { error: unknown } } = {}
  const followUps = new Set<Promise<void>>()
  const fail = (error: unknown): void => {
    state.failure ??= { error }
  }
  const lane = async (): Promise<void> => {
    while (state.failure === undefined && !signal.aborted && next < items.length) {
      const item = items[next] as T
      next += 1
      try {
        const followUp = await worker(item)
        if (followUp !== undefined) {
          const tracked: Promise<void> = followUp.rest
            .catch(fail)
            .finally(() => followUps.delete(tracked))
          followUps.add(tracked)
        }
        while (followUps.size >= maxFollowUps) await Promise.race(followUps)
      } catch (error) {
        fail(error)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane))
  await Promise.all(followUps)
  if (state.failure !== undefined) throw state.failure.error
  if (signal.aborted) throw signal.reason
}

export function openConnection(job: HostJob, signal: AbortSignal): Promise<SshConnection> {
  const { host, settings } = job
  return connect({
    host: host.host,
    port: host.port,
    username: host.user,
    label: host.label,
    privateKey: settings.credentials.privateKey,
    passphrase: settings.credentials.passphrase,
    password: settings.credentials.password,
    checkHostKey: hostKeyChecker(settings.hostKeys, host),
    hostKeyAlgorithms: hostKeyAlgorithms(settings.hostKeys, host.host, host.port),
    connectTimeoutMs: settings.connectTimeoutMs,
    idleTimeoutMs: settings.idleTimeoutMs,
    keepaliveIntervalMs: settings.keepaliveIntervalMs,
    keepaliveCountMax: KEEPALIVE_COUNT_MAX,
    signal
  })
}

interface AttemptContext {
  readonly job: HostJob
  readonly sftp: SftpSession
  readonly remoteHasher: RemoteHasher | undefined
  readonly ensureDir: (dir: string) => Promise<void>
  readonly base: string
  /** Unchanged files were already found in one pass: no per-file check. */
  checkedUnchanged: boolean
  /** Files being hashed on the server while they are written. */
  following: number
}

/** SHA-256 of a remote file: by remote command where the host can, else read back over SFTP. */
async function remoteDigest(
  context: AttemptContext,
  path: string,
  size: number,
  earlier?: RemoteFollower | { readonly sha256: string }
): Promise<string> {
  const { job, remoteHasher, sftp } = context
  if (earlier !== undefined && 'sha256' in earlier) return earlier.sha256
  // Without a follower the request goes to the hashing shells in this same turn, so thousands
  // asked for together fill the first batch before the rest have been asked for.
  let answer: RemoteDigest = earlier === undefined ? 'unavailable' : await earlier.finish(size)
  if (answer === 'unavailable' && remoteHasher !== undefined)
    answer = await remoteHasher.hash(path, size)
  if (answer === 'unavailable') {
    if (!job.progress.toldReadBack) {
      job.progress.toldReadBack = true
      job.log.info(
        'the host does not run openssl, sha256sum or shasum for us (no shell, none installed, or no session left): verifying by reading each file back over SFTP'
      )
    }
    return readBackHash(sftp, path)
  }
  if (answer === 'unreadable')
    throw new DeployError('remote-failure', `cannot read '${path}' on the host to verify it`)
  return answer.sha256
}

async function alreadyThere(
  context: AttemptContext,
  file: PlannedFile,
  path: string
): Promise<boolean> {
  const { job, sftp } = context
  if (job.settings.verify !== 'sha256') return false
  const existing = await sftp.stat(path)
  if (existing?.isFile !== true || existing.size !== file.size) return false
  const [local, remote] = await Promise.all([
    job.localHasher.digest(file.localPath, file.size),
    remoteDigest(context, path, file.size)
  ])
  return local.sha256 === remote && local.size === file.size
}

async function verifyFile(
  context: AttemptContext,
  file: PlannedFile,
  path: string,
  size: number,
  /** Where the host's digest comes from first: a follower, or a digest already in. */
  earlier?: RemoteFollower | { readonly sha256: string }
): Promise<void> {
  const { job, sftp } = context
  switch (job.settings.verify) {
    case 'none':
      return
    case 'size': {
      const stat = await sftp.stat(path)
      if (stat?.size !== size)
        throw new DeployError(
          'verify-mismatch',
          `'${file.relativePath}' has ${stat?.size ?? 'no'} bytes on the host after sending ${size}`
        )
      return
    }
    case 'sha256': {
      const [local, remote] = await Promise.all([
        job.localHasher.digest(file.localPath, file.size),
        remoteDigest(context, path, size, earlier)
      ])
      compareDigests(job, file, size, local, remote)
    }
  }
}

/** Throws unless `local` (the runner's digest of the `size` bytes sent) matches the host's. */
function compareDigests(
  job: HostJob,
  file: PlannedFile,
  size: number,
  local: LocalDigest,
  remote: string
): void {
  if (local.size !== size) throw changedOnRunner(file, `${size} bytes sent, ${local.size} hashed`)
  if (local.sha256 !== remote) {
    // The runner's copy may be what changed (another file renamed over it, say).
    checkIdentity(file)
    job.progress.cautious = true
    throw new DeployError(
      'verify-mismatch',
      `'${file.relativePath}' arrived corrupted: SHA-256 on the host ${remote.slice(0, 16)}…, expected ${local.sha256.slice(0, 16)}…`
    )
  }
}

/** Free space at `dir`: statvfs over SFTP, else `df -Pk` where the host has a shell. */
async function freeSpace(
  sftp: SftpSession,
  connection: SshConnection,
  dir: string
): Promise<{ bytes: number; readOnly: boolean } | undefined> {
  const space = await sftp.statvfs(dir).catch(() => undefined)
  if (space !== undefined) return { bytes: space.availableBytes, readOnly: space.readOnly }
  const result = await connection.exec(freeSpaceCommand(dir)).catch(() => undefined)
  const bytes = result?.code === 0 ? parseFreeSpace(result.stdout.split('\n')) : undefined
  return bytes === undefined ? undefined : { bytes, readOnly: false }
}

/**
 * SFTP's FAILURE status covers a full disk, a quota, a read-only file system and more: look at
 * the space left so the message says which.
 */
async function explainFailure(
  context: AttemptContext,
  connection: SshConnection,
  error: unknown,
  file: PlannedFile,
  remaining: number
): Promise<unknown> {
  if (!(error instanceof DeployError) || error.kind !== 'remote-failure') return error
  if (connection.failure !== undefined) return error
  const finalPath = posix.join(context.base, file.relativePath)
  const inTheWay = await directoryInTheWay(context.sftp, finalPath, file.relativePath, error)
  if (inTheWay !== undefined) return inTheWay
  const dir = posix.dirname(finalPath)
  const space = await freeSpace(context.sftp, connection, dir).catch(() => undefined)
  const where = context.job.host.label
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

interface Following {
  /** The upload's acknowledged prefix grew to `bytes`. */
  acknowledged(bytes: number): void
  /** The follower, if one was started. */
  readonly follower: Promise<RemoteFollower | undefined>
  readonly close: () => void
}

/** This machine's boot id, where it has one (Linux). */
function localBootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined
  } catch {
    return undefined
  }
}

/**
 * Whether to hash a large file on the server while it is written. Not when the host is this
 * machine (same boot id): there the server's CPUs are the client's own, and hashing alongside
 * slows the transfer more than hashing afterwards costs (measured on loopback, 2 cores: 1 GiB
 * in 4.3 s followed on a channel of its own against 3.6 s hashed after; followed in the hashing
 * shell, medians of 6 alternating rounds, 2.56 s against 2.45). Elsewhere the server's CPUs are
 * its own (behind a 48 MiB/s link, 256 MiB followed finished 0.3-0.5 s sooner). Decided once
 * FOLLOW_AFTER bytes have arrived, when the hashing shell has said which machine it runs on; the
 * follower starts from there and catches up from the page cache.
 */
function followLargeFile(
  context: AttemptContext,
  connection: SshConnection,
  file: PlannedFile,
  writePath: string,
  offset: number
): Following {
  const { settings, followOnThisMachine } = context.job
  let decided =
    settings.verify !== 'sha256' ||
    offset !== 0 ||
    file.size < FOLLOW_MIN_SIZE ||
    context.remoteHasher === undefined
  let latest = 0
  let current: RemoteFollower | undefined
  let closed = false
  let follower: Promise<RemoteFollower | undefined> = Promise.resolve(undefined)
  return {
    get follower() {
      return follower
    },
    acknowledged(bytes) {
      latest = bytes
      current?.advance(bytes)
      if (decided || bytes < FOLLOW_AFTER) return
      const remote = context.remoteHasher
      if (remote === undefined || remote.unavailable) {
        decided = true
        return
      }
      // Until a hashing shell has said which machine the host is, the next write asks again.
      const machine = remote.machine
      if (machine === undefined) return
      decided = true
      const elsewhere = machine.bootId === undefined || machine.bootId !== localBootId()
      if (context.following >= FOLLOW_CHANNELS || (!elsewhere && !followOnThisMachine)) return
      context.following += 1
      follower = startFollower(context, connection, writePath).then(
        (opened) => {
          if (opened === undefined || closed) {
            opened?.close()
            context.following -= 1
            return undefined
          }
          current = opened
          opened.advance(latest)
          context.job.log.info(`'${file.relativePath}': hashed on the host as it arrives`)
          return opened
        },
        () => {
          // The connection failed: the upload fails with it.
          context.following -= 1
          return undefined
        }
      )
    },
    close: () => {
      if (closed) return
      closed = true
      if (current === undefined) return
      current.close()
      current = undefined
      context.following -= 1
    }
  }
}

/**
 * A follower in an idle hashing shell, taken from the hasher and given back once it has
 * finished: no login, which on a loaded host costs more than the hashing gains. On its own
 * channel where no shell is idle or up.
 */
async function startFollower(
  context: AttemptContext,
  connection: SshConnection,
  writePath: string
): Promise<RemoteFollower | undefined> {
  const { idleTimeoutMs } = context.job.settings
  const hasher = context.remoteHasher
  const shell = await hasher?.takeShell()
  if (hasher === undefined || shell === undefined)
    return followRemoteHash(connection, writePath, idleTimeoutMs)
  return followInShell(connection, shell, writePath, idleTimeoutMs, (idle) => hasher.giveBack(idle))
}

/**
 * Sends one file to its temporary name (continuing an earlier attempt's partial copy) and
 * returns the rest of its work, verifying and publishing it, to run while the next file goes out.
 */
async function deployFile(
  context: AttemptContext,
  connection: SshConnection,
  file: PlannedFile
): Promise<FollowUp | undefined> {
  const { job, sftp, base } = context
  const { settings, progress } = job
  const finalPath = posix.join(base, file.relativePath)
  await context.ensureDir(posix.dirname(finalPath))

  if (!context.checkedUnchanged && (await alreadyThere(context, file, finalPath))) {
    progress.done.add(file.relativePath)
    progress.skipped += 1
    return undefined
  }

  const writePath = settings.atomic ? temporaryPath(finalPath, job.hostToken) : finalPath
  // An earlier attempt of this run may have left part of this file under its temporary name.
  let offset = 0
  if (
    settings.atomic &&
    settings.resume &&
    !progress.cautious &&
    progress.temporaries.has(writePath)
  ) {
    const partial = await sftp.stat(writePath)
    if (partial?.isFile === true && partial.size <= file.size) offset = partial.size
  }
  if (settings.atomic) progress.temporaries.add(writePath)

  const failed = async (error: unknown, remaining: number): Promise<never> => {
    const explained = await explainFailure(context, connection, error, file, remaining)
    // A partial copy is kept for the next attempt only when the connection, not the copy, failed;
    // otherwise it is removed now, while the connection allows.
    if (settings.atomic && connection.failure === undefined) {
      await sftp
        .unlink(writePath)
        .then(() => progress.temporaries.delete(writePath))
        .catch(() => undefined)
    }
    throw explained
  }

  const following = followLargeFile(context, connection, file, writePath, offset)
  let written = offset
  let sent: number
  try {
    sent = await uploadFile(sftp, {
      localPath: file.localPath,
      remotePath: writePath,
      mode: file.mode,
      offset,
      size: file.size,
      hash:
        offset === 0 && settings.verify === 'sha256'
          ? job.localHasher.claim(file.localPath)
          : undefined,
      writesInFlight: progress.cautious ? 1 : WRITES_IN_FLIGHT,
      reader: job.reader,
      onBytes: (bytes) => {
        progress.bytes += bytes
        written += bytes
      },
      onAcknowledged: (bytes) => following.acknowledged(bytes)
    })
  } catch (error) {
    following.close()
    return failed(error, file.size - written)
  }
  try {
    const read = job.localHasher.known(file.localPath)
    await checkSent(file, read?.size === offset + sent ? read : undefined)
  } catch (error) {
    following.close()
    return failed(error, 0)
  }
  if (offset > 0) {
    progress.resumedBytes += offset
    job.log.info(
      `'${file.relativePath}': continued from ${formatBytes(offset)} already on the host`
    )
  }

  const rest = (async () => {
    try {
      await verifyFile(context, file, writePath, offset + sent, await following.follower).finally(
        following.close
      )
      if (settings.atomic) {
        await sftp.posixRename(writePath, finalPath)
        progress.temporaries.delete(writePath)
      }
    } catch (error) {
      await failed(error, 0)
    }
    progress.done.add(file.relativePath)
    progress.uploaded += 1
  })()
  return { rest }
}

/**
 * A symbolic link, deployed as a link (`follow-symbolic-links: false`): skipped where the host
 * has a link with the same target text at its path; else made under its temporary name, its
 * text read back, and renamed over the final path (replacing what is there, a link included),
 * or with `atomic: false` made in place of what is there.
 */
async function deployLink(context: AttemptContext, file: PlannedFile): Promise<undefined> {
  const { job, sftp, base } = context
  const { settings, progress } = job
  const target = file.linkTarget as string
  const finalPath = posix.join(base, file.relativePath)
  await context.ensureDir(posix.dirname(finalPath))
  const existing = await sftp.lstat(finalPath)
  if (existing?.isSymbolicLink === true && (await sftp.readlink(finalPath)) === target) {
    progress.done.add(file.relativePath)
    progress.skipped += 1
    return undefined
  }
  const writePath = settings.atomic ? temporaryPath(finalPath, job.hostToken) : finalPath
  if (settings.atomic) progress.temporaries.add(writePath)
  try {
    if (settings.atomic || (existing !== undefined && !existing.isDirectory))
      await sftp.unlink(writePath).catch((error: unknown) => {
        if (!(error instanceof DeployError && error.kind === 'no-such-path')) throw error
      })
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
  progress.done.add(file.relativePath)
  progress.uploaded += 1
  return undefined
}

/** Remote digests asked for before the SFTP server was up. */
interface EarlyDigests {
  /** The digests that have come in, by relative path. */
  readonly answers: ReadonlyMap<string, RemoteDigest>
  /** Whether the file (by relative path) was asked for: its answer comes, or has come. */
  asked(relativePath: string): boolean
  /** Resolves when every file asked for has its answer. */
  allAnswered(): Promise<void>
  /** Resolves when no more will be asked for. */
  readonly settled: Promise<void>
  /** Asks for no more. */
  abandon(): void
}

/**
 * With many small files the hashing shell starts before the SFTP server (see runAttempt), and
 * the target's absolute path comes from the SFTP server. So the files a redeploy may already
 * have (all but the large ones, which are compared by size first) are hashed at once by their
 * paths under `target` as given, which the shell resolves from its working directory. One file
 * goes first: if it is not there (a new target, most likely), the others are not asked for.
 * No promise per file: thousands of them cost tens of milliseconds.
 */
function lookEarly(
  remoteHasher: RemoteHasher,
  todo: readonly PlannedFile[],
  /** Called when the first file is there (or there is none to ask for). */
  onThere: () => void
): EarlyDigests {
  const answers = new Map<string, RemoteDigest>()
  const asked = new Set<string>()
  let abandoned = false
  let allIn: (() => void) | undefined
  let allAnswered: Promise<void> | undefined
  const ask = (file: PlannedFile, then?: (answer: RemoteDigest) => void): void => {
    asked.add(file.relativePath)
    // The file's path under `target` as given: what the shell resolves from its directory.
    remoteHasher.hashInto(file.remotePath, file.size, (answer) => {
      answers.set(file.relativePath, answer)
      if (answers.size === asked.size) allIn?.()
      then?.(answer)
    })
  }
  const [first, ...rest] = todo.filter((file) => file.size < SIZE_CHECK_FIRST)
  if (first === undefined) onThere()
  const settled =
    first === undefined
      ? Promise.resolve()
      : new Promise<void>((resolve) =>
          ask(first, (answer) => {
            if (answer !== 'unreadable' && !abandoned) {
              onThere()
              if (typeof answer === 'object') for (const file of rest) ask(file)
            }
            resolve()
          })
        )
  return {
    answers,
    asked: (relativePath) => asked.has(relativePath),
    allAnswered: () =>
      answers.size === asked.size
        ? Promise.resolve()
        : (allAnswered ??= new Promise((resolve) => (allIn = resolve))),
    settled,
    abandon() {
      abandoned = true
    }
  }
}

/**
 * The early digests count only for a target that was there, and only if the shells' relative
 * paths are the SFTP server's: an absolute target, or the same starting directory (an SFTP
 * server may start elsewhere, `sftp-server -d`).
 */
async function keepEarly(
  early: EarlyDigests,
  remoteHasher: RemoteHasher,
  targetIsNew: boolean,
  target: string,
  loginDirectory: string | undefined
): Promise<EarlyDigests | undefined> {
  if (!targetIsNew && (posix.isAbsolute(target) || loginDirectory !== undefined)) {
    await early.settled
    if (posix.isAbsolute(target) || remoteHasher.machine?.cwd === loginDirectory) return early
  }
  early.abandon()
  remoteHasher.dropQueued()
  return undefined
}

/**
 * Files whose copy on the host already has the same SHA-256 are not sent again. One pass over
 * all of them through the hashing shells; large files are compared by size first, so an old
 * version of a big file is not hashed for nothing. Returns false when the host cannot hash.
 */
async function skipUnchanged(
  context: AttemptContext,
  todo: readonly PlannedFile[],
  early: EarlyDigests | undefined
): Promise<boolean> {
  const { job, sftp, base, remoteHasher } = context
  if (remoteHasher === undefined) return false
  type Comparison = 'same' | 'differs' | 'unavailable'
  const compare = (file: PlannedFile, remote: RemoteDigest, local: LocalDigest): Comparison => {
    if (remote === 'unavailable') return 'unavailable'
    if (remote === 'unreadable') return 'differs'
    return local.sha256 === remote.sha256 && local.size === file.size ? 'same' : 'differs'
  }
  const results = new Array<Comparison>(todo.length)
  const waiting: Promise<void>[] = []
  const compareLater = (file: PlannedFile, index: number): void => {
    const comparing = async (): Promise<Comparison> => {
      const path = posix.join(base, file.relativePath)
      if (file.size >= SIZE_CHECK_FIRST) {
        const existing = await sftp.stat(path)
        if (existing?.isFile !== true || existing.size !== file.size) return 'differs'
      }
      const answer =
        (file.size < SIZE_CHECK_FIRST ? early?.answers.get(file.relativePath) : undefined) ??
        (await remoteHasher.hash(path, file.size))
      if (answer === 'unavailable') return 'unavailable'
      return compare(file, answer, await job.localHasher.digest(file.localPath, file.size))
    }
    waiting.push(
      comparing().then((result) => {
        results[index] = result
      })
    )
  }
  // Where both digests are in (an early answer, and the local one computed meanwhile), a file
  // is compared at once, without a promise: with a promise each, 10,000 files took 20-30 ms.
  const compareNow = (file: PlannedFile, index: number): boolean => {
    const remote = file.size < SIZE_CHECK_FIRST ? early?.answers.get(file.relativePath) : undefined
    const local = remote === undefined ? undefined : job.localHasher.known(file.localPath)
    if (remote === undefined || local === undefined) return false
    results[index] = compare(file, remote, local)
    return true
  }
  // The files whose early answer is still to come are compared together once all have come.
  const answerToCome: number[] = []
  todo.forEach((file, index) => {
    if (compareNow(file, index)) return
    if (
      file.size < SIZE_CHECK_FIRST &&
      early?.asked(file.relativePath) === true &&
      !early.answers.has(file.relativePath)
    )
      answerToCome.push(index)
    else compareLater(file, index)
  })
  if (early !== undefined && answerToCome.length > 0) {
    await early.allAnswered()
    for (const index of answerToCome) {
      const file = todo[index] as PlannedFile
      if (!compareNow(file, index)) compareLater(file, index)
    }
  }
  await Promise.all(waiting)
  if (results.includes('unavailable')) return false
  todo.forEach((file, index) => {
    if (results[index] !== 'same') return
    job.progress.done.add(file.relativePath)
    job.progress.skipped += 1
  })
  return true
}

// Directories (and with `atomic: false`, files) looked at for links at once.
const LINK_CHECKS_IN_FLIGHT = 32

/**
 * Nothing is written through a symbolic link found inside the target (the target itself may be
 * one): before anything is sent, every directory below the target that the files to send go
 * into is looked at, and with `atomic: false` every file they are written over (a rename over a
 * link replaces the link, but writing in place would write where it points; a link deployed as
 * a link replaces what is there either way). A link fails the
 * host, naming the link and what it points to. A directory that is not there has nothing below
 * it to look at.
 */
async function refuseLinksInTarget(
  context: AttemptContext,
  todo: readonly PlannedFile[],
  signal: AbortSignal
): Promise<void> {
  const { job, sftp, base } = context
  const files = new Set(todo.map((file) => file.relativePath))
  const byDepth: Set<string>[] = []
  for (const file of todo) {
    const segments = file.relativePath.split('/')
    // A file renamed into place, or a link made in place, replaces what is at its path.
    const replaced = job.settings.atomic || file.linkTarget !== undefined
    const last = replaced ? segments.length - 1 : segments.length
    for (let depth = 1; depth <= last; depth += 1)
      (byDepth[depth - 1] ??= new Set()).add(segments.slice(0, depth).join('/'))
  }
  const missing = new Set<string>()
  for (const paths of byDepth) {
    const present: string[] = []
    for (const path of paths)
      if (missing.has(posix.dirname(path))) missing.add(path)
      else present.push(path)
    await runPool(present, LINK_CHECKS_IN_FLIGHT, signal, async (path) => {
      const remotePath = posix.join(base, path)
      const found = await sftp.lstat(remotePath)
      if (found === undefined) missing.add(path)
      else if (found.isSymbolicLink) {
        const pointsTo = await sftp.readlink(remotePath).catch(() => '?')
        throw new DeployError(
          'remote-failure',
          `'${remotePath}' on the host is a symbolic link (to '${pointsTo}') inside the target: nothing is written through a link there; replace it with ${files.has(path) ? 'a real file' : 'a directory'}, or point target at where it leads`
        )
      }
      return undefined
    })
  }
}

/** Creates and removes a probe file in the target: the surest test that writing works there. */
async function checkWritable(context: AttemptContext, connection: SshConnection): Promise<void> {
  const { job, sftp, base } = context
  const probe = posix.join(base, `.sfd-preflight-${attemptToken(job)}`)
  try {
    await sftp.close(await sftp.open(probe, 'w', 0o600))
    await sftp.unlink(probe)
  } catch (error) {
    if (connection.failure !== undefined) throw error
    const reason = error instanceof Error ? error.message : String(error)
    const space = await sftp.statvfs(base).catch(() => undefined)
    throw new DeployError(
      space?.readOnly === true
        ? 'permission'
        : error instanceof DeployError
          ? error.kind
          : 'remote-failure',
      `preflight: cannot write in target '${base}' on ${job.host.label}: ${space?.readOnly === true ? 'the file system is read-only' : reason}`,
      { cause: error }
    )
  }
}

/** Before any file is sent: the target is writable and has room for what is to be sent. */
async function preflight(
  context: AttemptContext,
  connection: SshConnection,
  todo: readonly PlannedFile[]
): Promise<void> {
  const { job, sftp, base } = context
  await checkWritable(context, connection)
  const needed = todo.reduce((sum, file) => sum + file.size, 0)
  const space = await freeSpace(sftp, connection, base)
  if (space !== undefined && space.bytes < needed)
    throw new DeployError(
      'disk-full',
      `preflight: not enough space on ${job.host.label}: ${formatBytes(space.bytes)} free in '${base}', ${formatBytes(needed)} to send`
    )
  if (job.progress.attempts === 1)
    job.log.info(
      `preflight: target writable, ${space === undefined ? 'free space unknown' : `${formatBytes(space.bytes)} free`}, ${formatBytes(needed)} to send`
    )
}

// The longest the SFTP session waits for the hashing shell to log in first.
const SFTP_AFTER_SHELL_MS = 1000

/** Whether the connection has failed (a function: it may have, since last looked at). */
function connectionLost(connection: SshConnection): boolean {
  return connection.failure !== undefined
}

/**
 * The SFTP session, asked for after the hashing shell's: a server that allows one session at a
 * time (MaxSessions 1) gave that one to the shell, which makes way (once done with a tar stream
 * it has taken), and SFTP is asked for again until the shell's session has ended (for up to the
 * idle timeout).
 */
async function sftpAfterShell(
  connection: SshConnection,
  remoteHasher: RemoteHasher,
  idleTimeoutMs: number
): Promise<SftpSession> {
  try {
    return await connection.sftp()
  } catch (error) {
    if (connectionLost(connection) || !(error instanceof ChannelRefusedError)) throw error
    remoteHasher.release()
    for (let waited = 0; ;) {
      const wait = Math.min(50 + waited / 2, 500)
      await new Promise((resolve) => setTimeout(resolve, wait))
      waited += wait
      try {
        return await connection.sftp()
      } catch (again) {
        if (waited >= idleTimeoutMs || connectionLost(connection)) throw again
      }
    }
  }
}

/** Small files already on their way into a target the hashing shell made. */
interface StreamStarted {
  readonly base: string
  readonly freeBytes: number
  readonly stagingDir: string
  readonly streamed: Promise<Streamed>
}

/** What the hashing shell found at the target before the SFTP server was up. */
interface ShellLook {
  /** Where the shell made the target (it was not there), if it did. */
  readonly madeBase?: string
  /** The small files on their way into it. */
  readonly streaming?: StreamStarted
}

/**
 * Where many small files go to a target that is not there yet, the hashing shell (often logged
 * in before the SFTP server: the shell is asked for first) makes the target, says where it is
 * and how much room it has, and takes the tar stream at once, while the SFTP server, needed only
 * to publish, starts. No stream (the shell back in service) when the target is there already,
 * cannot be made, or has not the room for `needed` bytes, or where df does not say: the usual
 * checks over SFTP then run, and say what is wrong.
 */
async function streamBeforeSftp(
  job: HostJob,
  connection: SshConnection,
  remoteHasher: RemoteHasher,
  small: readonly PlannedFile[],
  needed: number,
  signal: AbortSignal
): Promise<ShellLook> {
  const { settings, progress, log } = job
  const shell = await remoteHasher.takeShell()
  if (shell === undefined) return {}
  let made
  try {
    made = parseTargetProbe(
      await shell.channel.request(
        targetProbeScript(settings.target),
        END_LINE,
        settings.idleTimeoutMs
      )
    )
  } catch (error) {
    shell.channel.close()
    if (connection.failure !== undefined) throw error
    return {}
  }
  if (made?.freeBytes === undefined || made.freeBytes < needed) {
    remoteHasher.giveBack(shell)
    return { madeBase: made?.base }
  }
  const stagingDir = stagingPath(made.base, job)
  progress.stagingDirs.add(stagingDir)
  const streamed = streamSmallFiles({
    connection,
    localHasher: job.localHasher,
    hashLocally: true,
    takeShell: () => Promise.resolve(shell),
    idleTimeoutMs: settings.idleTimeoutMs,
    stagingDir,
    files: small,
    signal,
    onBytes: (bytes) => {
      progress.bytes += bytes
    },
    log: (line) => log.info(line)
  })
  // A stream that failed before it took the shell leaves it to be closed here.
  streamed.catch(() => shell.channel.close())
  return {
    madeBase: made.base,
    streaming: { base: made.base, freeBytes: made.freeBytes, stagingDir, streamed }
  }
}

/**
 * Whether the SFTP server sees `target` where the hashing shell made it. Not where the SFTP
 * server starts elsewhere (`sftp-server -d`): the target is the one it sees, and the stream the
 * shell took is dropped once it is over (its staging directory removed, and the directory the
 * shell made, empty again, with it).
 */
async function keepStream(
  connection: SshConnection,
  sftp: SftpSession,
  job: HostJob,
  started: StreamStarted
): Promise<boolean> {
  const resolved = await sftp.realpath(job.settings.target).catch(() => undefined)
  if (resolved === started.base) return true
  job.log.info(
    `the SFTP server does not see target ${job.settings.target} where the shell made it (${started.base}); dropping what the shell received`
  )
  await started.streamed.catch(() => undefined)
  if (await removeStaging(connection, sftp, started.stagingDir))
    job.progress.stagingDirs.delete(started.stagingDir)
  await sftp.rmdir(started.base).catch(() => undefined)
  return false
}

/** One attempt. Throws a DeployError; `retryable` tells the caller whether to try again. */
export async function runAttempt(job: HostJob, signal: AbortSignal): Promise<void> {
  const { settings, progress, log } = job
  const started = Date.now()
  // Until this host's first session is up, the other hosts' second sessions wait.
  const firstSessionUp = job.sessions.first()
  let connection: SshConnection
  try {
    connection = await openConnection(job, signal)
  } catch (error) {
    firstSessionUp()
    throw error
  }
  log.info(`connected in ${formatDuration(Date.now() - started)}`)
  let remoteHasher: RemoteHasher | undefined
  try {
    let todo = job.plan.files.filter((file) => !progress.done.has(file.relativePath))
    // Symbolic links (`follow-symbolic-links: false`) go on their own, over SFTP.
    const links = todo.filter((file) => file.linkTarget !== undefined)
    if (links.length > 0) todo = todo.filter((file) => file.linkTarget === undefined)
    const smallAtStart = settings.atomic
      ? todo.filter((file) => file.size <= TAR_MAX_FILE_SIZE)
      : []
    // Two sessions, each a login: SFTP and a hashing shell. The one the files need first is
    // asked for first, and the other once it is up (logins can take turns: see SessionGate).
    // Where many small files are to go as a tar stream, the shell takes the stream and SFTP only
    // publishes, so the shell goes first; otherwise SFTP does, which also gives SFTP the one
    // session of a server with MaxSessions 1.
    const shellFirst = settings.verify === 'sha256' && smallAtStart.length >= TAR_MIN_FILES
    let early: EarlyDigests | undefined
    let sftpOpening: Promise<SftpSession>
    if (settings.verify === 'sha256') {
      remoteHasher = createRemoteHasher(
        connection,
        HASH_CHANNELS,
        settings.idleTimeoutMs,
        GROW_BACKLOG,
        !shellFirst
      )
      if (shellFirst) {
        // Asked for once the shell has logged in (or at most a second later), so that the
        // shell's login goes first.
        let timer: NodeJS.Timeout | undefined
        await Promise.race([
          remoteHasher.warmUp(),
          new Promise((resolve) => (timer = setTimeout(resolve, SFTP_AFTER_SHELL_MS)))
        ])
        clearTimeout(timer)
        firstSessionUp()
        const hasher = remoteHasher
        sftpOpening = job.sessions
          .second()
          .then(() => sftpAfterShell(connection, hasher, settings.idleTimeoutMs))
      } else {
        // Otherwise SFTP's login goes first and the shell's follows it: the files go over SFTP,
        // and the shell is wanted once they are sent, or to compare what is there.
        sftpOpening = connection.sftp()
        const hasher = remoteHasher
        void sftpOpening
          .finally(firstSessionUp)
          .then(
            () => job.sessions.second(),
            () => undefined
          )
          .then(() => hasher.warmUp())
      }
    } else {
      sftpOpening = connection.sftp()
      void sftpOpening.finally(firstSessionUp).catch(() => undefined)
    }
    // Dropped unread when the stream below fails first.
    sftpOpening.catch(() => undefined)
    const bytesToSend = todo.reduce((sum, file) => sum + file.size, 0)
    const looked =
      shellFirst && remoteHasher !== undefined
        ? await streamBeforeSftp(job, connection, remoteHasher, smallAtStart, bytesToSend, signal)
        : {}
    let streaming = looked.streaming
    // The local digests of the files to compare are computed meanwhile, once the first early
    // answer shows there is something to compare with; in a new target they come from the
    // reads that send the files. A target the shell has just made holds nothing to compare.
    if (remoteHasher !== undefined && looked.madeBase === undefined)
      early = lookEarly(remoteHasher, todo, () => job.localHasher.warm(todo))
    const sftp = await sftpOpening
    const ensureDir = directoryMaker(sftp)
    if (streaming !== undefined && !(await keepStream(connection, sftp, job, streaming)))
      streaming = undefined
    let targetIsNew = true
    let base: string
    if (streaming === undefined) {
      // A target this attempt creates holds nothing to compare with.
      const [existing, loginDirectory] = await Promise.all([
        sftp.stat(settings.target),
        early === undefined || posix.isAbsolute(settings.target)
          ? undefined
          : sftp.realpath('.').catch(() => undefined)
      ])
      targetIsNew = existing === undefined
      if (early !== undefined && remoteHasher !== undefined)
        early = await keepEarly(early, remoteHasher, targetIsNew, settings.target, loginDirectory)
      await ensureDir(settings.target)
      base = await sftp.realpath(settings.target)
      // Where the SFTP server sees the target the shell made (and did not stream into: too
      // little room, or df did not say), it is as new.
      if (base === looked.madeBase) targetIsNew = true
      // Made where the SFTP server does not see the target (`sftp-server -d`): not left behind.
      else if (looked.madeBase !== undefined)
        await sftp.rmdir(looked.madeBase).catch(() => undefined)
      if (progress.attempts === 1)
        log.info(`target ${settings.target} is ${base} on the host${targetIsNew ? ' (new)' : ''}`)
    } else {
      base = streaming.base
      if (progress.attempts === 1) {
        log.info(`target ${settings.target} is ${base} on the host (new)`)
        if (settings.preflight)
          log.info(
            `preflight: target made, ${formatBytes(streaming.freeBytes)} free, ${formatBytes(bytesToSend)} to send`
          )
      }
    }

    const context: AttemptContext = {
      job,
      sftp,
      remoteHasher,
      ensureDir,
      base,
      checkedUnchanged: targetIsNew,
      following: 0
    }
    if (settings.verify === 'sha256' && !targetIsNew) {
      const checking = Date.now()
      context.checkedUnchanged = await skipUnchanged(context, todo, early)
      todo = todo.filter((file) => !progress.done.has(file.relativePath))
      if (context.checkedUnchanged)
        log.info(
          `${progress.skipped} file(s) already up to date, ${todo.length} to send (checked in ${formatDuration(Date.now() - checking)})`
        )
    }
    // With nothing to send there is nothing to check room or write access for, and nothing to
    // publish.
    // A target this attempt made holds no link.
    const toSend = links.length === 0 ? todo : [...todo, ...links]
    if (!targetIsNew && toSend.length > 0) await refuseLinksInTarget(context, toSend, signal)
    if (settings.preflight && toSend.length > 0 && streaming === undefined)
      await preflight(context, connection, toSend)
    if (settings.atomic && !sftp.hasPosixRename && toSend.length > 0) {
      // A read-only server offers no rename either: say which it is.
      await checkWritable(context, connection)
      throw new DeployError(
        'protocol',
        "the server's SFTP does not offer posix-rename@openssh.com, needed to publish files atomically; set 'atomic: false' to write files in place"
      )
    }
    const viaSftp = (files: readonly PlannedFile[]): Promise<void> =>
      runPool(files, settings.concurrency, signal, (file) => deployFile(context, connection, file))

    // Many small files go as one tar stream where the host has a shell (and tar); the others,
    // and all of them elsewhere, over SFTP. Both run at once. Whether the host can take a tar
    // stream is not asked first: a host that cannot fails the command at once, and its files
    // go over SFTP.
    const small = settings.atomic ? todo.filter((file) => file.size <= TAR_MAX_FILE_SIZE) : []
    let tarred: Promise<void> | undefined
    const onPublished = (file: PlannedFile): void => {
      progress.done.add(file.relativePath)
      progress.uploaded += 1
    }
    const verifyStaged = (file: PlannedFile, stagedPath: string, sha256?: string): Promise<void> =>
      verifyFile(
        context,
        file,
        stagedPath,
        file.size,
        sha256 === undefined ? undefined : { sha256 }
      )
    const checkStaged = (file: PlannedFile, sha256: string): boolean => {
      const local = settings.verify === 'sha256' ? job.localHasher.known(file.localPath) : undefined
      if (local === undefined) return false
      compareDigests(job, file, file.size, local, sha256)
      return true
    }
    if (streaming !== undefined) {
      const { stagingDir } = streaming
      const inTar = new Set(smallAtStart)
      todo = todo.filter((file) => !inTar.has(file))
      tarred = streaming.streamed.then(async (streamed) => {
        if (streamed.staged)
          await publishSmallFiles(
            {
              connection,
              sftp,
              verifyStaged,
              checkStaged,
              base,
              targetIsNew,
              stagingDir,
              ensureDir,
              files: smallAtStart,
              onPublished,
              log: (line) => log.info(line)
            },
            streamed.digests
          )
        if (connection.failure === undefined) progress.stagingDirs.delete(stagingDir)
        await viaSftp(streamed.staged ? [] : smallAtStart)
      })
    } else if (small.length >= TAR_MIN_FILES && remoteHasher?.unavailable !== true) {
      const stagingDir = stagingPath(base, job)
      progress.stagingDirs.add(stagingDir)
      const inTar = new Set(small)
      todo = todo.filter((file) => !inTar.has(file))
      tarred = sendSmallFiles({
        connection,
        sftp,
        localHasher: job.localHasher,
        hashLocally: settings.verify === 'sha256',
        verifyStaged,
        checkStaged,
        takeShell: () => remoteHasher?.takeShell() ?? Promise.resolve(undefined),
        idleTimeoutMs: settings.idleTimeoutMs,
        base,
        targetIsNew,
        stagingDir,
        ensureDir,
        files: small,
        signal,
        onPublished,
        onBytes: (bytes) => {
          progress.bytes += bytes
        },
        log: (line) => log.info(line)
      }).then(async (left) => {
        if (connection.failure === undefined) progress.stagingDirs.delete(stagingDir)
        await viaSftp(left)
      })
    }
    const linked = runPool(links, settings.concurrency, signal, (file) => deployLink(context, file))
    const outcomes = await Promise.allSettled([viaSftp(todo), tarred, linked])
    const failed = outcomes.find((outcome) => outcome.status === 'rejected')
    if (failed !== undefined) throw failed.reason
  } finally {
    firstSessionUp()
    remoteHasher?.close()
    await connection.close()
  }
}

/**
 * After a host has failed for good: remove the temporary files this run left there, over a new
 * short connection if the last one is gone. Returns what could not be removed.
 */
export async function removeTemporaries(job: HostJob, signal: AbortSignal): Promise<string[]> {
  const { progress } = job
  if (progress.temporaries.size === 0 && progress.stagingDirs.size === 0) return []
  const connection = await openConnection(job, signal)
  try {
    const sftp = await connection.sftp()
    for (const path of [...progress.temporaries]) {
      await sftp
        .unlink(path)
        .catch((error: unknown) => {
          // Already gone is as good as removed.
          if (!(error instanceof DeployError && error.kind === 'no-such-path')) throw error
        })
        .then(() => progress.temporaries.delete(path))
        .catch(() => undefined)
    }
    for (const dir of [...progress.stagingDirs])
      if (await removeStaging(connection, sftp, dir)) progress.stagingDirs.delete(dir)
  } finally {
    await connection.close()
  }
  return [...progress.temporaries, ...progress.stagingDirs]
}
