// One attempt at one host: connect, create directories, and for each file not yet done —
// skip it if the host already has it, else write it to a temporary name beside its final path,
// verify it, and rename it into place. A retry runs this again with the files still to do.

import { posix } from 'node:path'
import { DeployError } from './errors.js'
import { checkHostKey, describeHostKey, hostKeyAlgorithms, knownHostsLine } from './host-key.js'
import type { HostTarget } from './host-list.js'
import type { Settings } from './inputs.js'
import type { LocalHasher } from './local-files.js'
import type { Plan, PlannedFile } from './plan.js'
import { createRemoteHasher, readBackHash, type RemoteHasher } from './remote-hash.js'
import { temporaryPath } from './remote-path.js'
import { connect, type SftpSession, type SshConnection } from './ssh.js'
import { uploadFile } from './upload.js'

export interface HostLog {
  info(line: string): void
  warning(line: string): void
}

/** What one host has done so far, kept across its attempts. */
export interface HostProgress {
  attempts: number
  bytes: number
  uploaded: number
  skipped: number
  /** Relative paths published (or found identical) on this host. */
  readonly done: Set<string>
  /** After a hash mismatch: one write in flight per file from then on. */
  serialWrites: boolean
  /** Once told, the log does not repeat that the host verifies by reading back. */
  toldReadBack: boolean
}

export function createHostProgress(): HostProgress {
  return {
    attempts: 0,
    bytes: 0,
    uploaded: 0,
    skipped: 0,
    done: new Set(),
    serialWrites: false,
    toldReadBack: false
  }
}

export interface HostJob {
  readonly host: HostTarget
  readonly settings: Settings
  readonly plan: Plan
  readonly localHasher: LocalHasher
  /** Per run: makes temporary names deterministic for this run only. */
  readonly runToken: string
  readonly log: HostLog
  readonly progress: HostProgress
}

// Internal limits not worth an input.
const IDLE_TIMEOUT_MS = 60_000
const KEEPALIVE_INTERVAL_MS = 10_000
const KEEPALIVE_COUNT_MAX = 3
const HASH_CHANNELS = 2
const WRITES_IN_FLIGHT = 16

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
      if ((await sftp.stat(dir))?.isDirectory) return
      throw error
    }
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

/** Runs `worker` over `items`, `limit` at a time; the first failure stops new work. */
export async function runPool<T>(
  items: readonly T[],
  limit: number,
  signal: AbortSignal,
  worker: (item: T) => Promise<void>
): Promise<void> {
  let next = 0
  const state: { failure?: { error: unknown } } = {}
  const lane = async (): Promise<void> => {
    while (state.failure === undefined && !signal.aborted && next < items.length) {
      const item = items[next] as T
      next += 1
      try {
        await worker(item)
      } catch (error) {
        state.failure ??= { error }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane))
  if (state.failure !== undefined) throw state.failure.error
  if (signal.aborted) throw signal.reason
}

async function openConnection(job: HostJob, signal: AbortSignal): Promise<SshConnection> {
  const { host, settings } = job
  return connect({
    host: host.host,
    port: host.port,
    username: host.user,
    label: host.label,
    privateKey: settings.credentials.privateKey,
    passphrase: settings.credentials.passphrase,
    password: settings.credentials.password,
    checkHostKey: (blob) => {
      const verdict = checkHostKey(settings.hostKeys, host.host, host.port, blob)
      if (verdict.ok) return { ok: true }
      const { keyType, fingerprint } = describeHostKey(blob)
      return {
        ok: false,
        reason: `host key verification failed for ${host.label}: the server presented ${keyType} ${fingerprint}, and ${verdict.reason}. If this is the right host, add to known-hosts: ${knownHostsLine(host.host, host.port, blob)}`
      }
    },
    hostKeyAlgorithms: hostKeyAlgorithms(settings.hostKeys, host.host, host.port),
    connectTimeoutMs: settings.connectTimeoutMs,
    idleTimeoutMs: IDLE_TIMEOUT_MS,
    keepaliveIntervalMs: KEEPALIVE_INTERVAL_MS,
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
}

/** SHA-256 of a remote file: by remote command where the host can, else read back over SFTP. */
async function remoteDigest(context: AttemptContext, path: string, size: number): Promise<string> {
  const { job, remoteHasher, sftp } = context
  const answer = remoteHasher === undefined ? 'unavailable' : await remoteHasher.hash(path, size)
  if (answer === 'unavailable') {
    if (!job.progress.toldReadBack) {
      job.progress.toldReadBack = true
      job.log.info(
        'the host does not run sha256sum, shasum or openssl for us (no shell, or none installed): verifying by reading each file back over SFTP'
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
    job.localHasher.digest(file.localPath),
    remoteDigest(context, path, file.size)
  ])
  return local.sha256 === remote && local.size === file.size
}

async function verifyFile(
  context: AttemptContext,
  file: PlannedFile,
  path: string,
  sent: number
): Promise<void> {
  const { job, sftp } = context
  switch (job.settings.verify) {
    case 'none':
      return
    case 'size': {
      const stat = await sftp.stat(path)
      if (stat?.size !== sent)
        throw new DeployError(
          'verify-mismatch',
          `'${file.relativePath}' has ${stat?.size ?? 'no'} bytes on the host after sending ${sent}`
        )
      return
    }
    case 'sha256': {
      const [local, remote] = await Promise.all([
        job.localHasher.digest(file.localPath),
        remoteDigest(context, path, sent)
      ])
      if (local.size !== sent)
        throw new DeployError(
          'verify-mismatch',
          `'${file.relativePath}' changed on the runner while it was being sent (${sent} bytes sent, ${local.size} hashed)`
        )
      if (local.sha256 !== remote) {
        job.progress.serialWrites = true
        throw new DeployError(
          'verify-mismatch',
          `'${file.relativePath}' arrived corrupted: SHA-256 on the host ${remote.slice(0, 16)}…, expected ${local.sha256.slice(0, 16)}…`
        )
      }
    }
  }
}

async function deployFile(context: AttemptContext, file: PlannedFile): Promise<void> {
  const { job, sftp, base } = context
  const { settings, progress } = job
  const finalPath = posix.join(base, file.relativePath)
  await context.ensureDir(posix.dirname(finalPath))

  if (await alreadyThere(context, file, finalPath)) {
    progress.done.add(file.relativePath)
    progress.skipped += 1
    return
  }

  const writePath = settings.atomic ? temporaryPath(finalPath, job.runToken) : finalPath
  try {
    const sent = await uploadFile(sftp, {
      localPath: file.localPath,
      remotePath: writePath,
      mode: file.mode,
      writesInFlight: progress.serialWrites ? 1 : WRITES_IN_FLIGHT,
      onBytes: (bytes) => {
        progress.bytes += bytes
      }
    })
    await verifyFile(context, file, writePath, sent)
    if (settings.atomic) await sftp.posixRename(writePath, finalPath)
  } catch (error) {
    // Nothing half-written stays behind at a temporary name when the connection still allows
    // removing it.
    if (settings.atomic) await sftp.unlink(writePath).catch(() => undefined)
    throw error
  }
  progress.done.add(file.relativePath)
  progress.uploaded += 1
}

/** One attempt. Throws a DeployError; `retryable` tells the caller whether to try again. */
export async function runAttempt(job: HostJob, signal: AbortSignal): Promise<void> {
  const { settings, progress, log } = job
  const connection = await openConnection(job, signal)
  // The hashing shell starts while the SFTP session opens and the first files go out.
  const remoteHasher =
    settings.verify === 'sha256'
      ? createRemoteHasher(connection, HASH_CHANNELS, IDLE_TIMEOUT_MS)
      : undefined
  remoteHasher?.warmUp()
  try {
    const sftp = await connection.sftp()
    if (settings.atomic && !sftp.hasPosixRename)
      throw new DeployError(
        'protocol',
        "the server's SFTP does not offer posix-rename@openssh.com, needed to publish files atomically; set 'atomic: false' to write files in place"
      )
    const ensureDir = directoryMaker(sftp)
    await ensureDir(settings.target)
    const base = await sftp.realpath(settings.target)
    if (progress.attempts === 1) log.info(`target ${settings.target} is ${base} on the host`)

    const todo = job.plan.files.filter((file) => !progress.done.has(file.relativePath))
    await runPool(todo, settings.concurrency, signal, (file) =>
      deployFile({ job, sftp, remoteHasher, ensureDir, base }, file)
    )
  } finally {
    remoteHasher?.close()
    await connection.close()
  }
}
