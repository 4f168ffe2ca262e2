// The connection's one SFTP session: opened on first use (and again after a refusal), each of
// its requests tracked, and ended before the connection so that the server's sftp-server exits.

import { classifySftpError, SFTP_STATUS, sftpStartError } from './classify.js'
import { DeployError } from '../errors.js'
import type { RequestTracker } from './request-tracker.js'
import type { Client, SFTPWrapper, Stats } from './ssh2.js'
import type {
  DirectoryEntry,
  FileSystemSpace,
  RemoteHandle,
  RemoteStat,
  SftpSession
} from './types.js'

/** What ssh2 uses when the server does not say (limits@openssh.com). */
const DEFAULT_MAX_LENGTH = 32 * 1024

type Callback<T> = (error: Error | null | undefined, value?: T) => void

/** An error status that is an answer, not a failure: `status` resolves with `value`. */
interface ExpectedStatus<T> {
  readonly status: number
  readonly value: T
}

/** Sends one SFTP request, tracked; any other error status is classified. */
type SftpRequest = <T>(
  operation: string,
  path: string,
  start: (callback: Callback<T>) => void,
  expected?: ExpectedStatus<T>
) => Promise<T>

export class SftpSessionSlot {
  readonly #client: Client
  readonly #requests: RequestTracker
  readonly #label: string
  readonly #idleTimeoutMs: number
  #session: Promise<SftpSession> | undefined
  #channel: SFTPWrapper | undefined
  #closing = false

  constructor(client: Client, requests: RequestTracker, label: string, idleTimeoutMs: number) {
    this.#client = client
    this.#requests = requests
    this.#label = label
    this.#idleTimeoutMs = idleTimeoutMs
  }

  /** The session, opened on first use; a refusal (no session left) is asked again next time. */
  session(): Promise<SftpSession> {
    return (this.#session ??= this.#open().catch((error: unknown) => {
      this.#session = undefined
      throw error
    }))
  }

  /**
   * Ends the session as the connection closes: resolves when the server has closed it, or
   * undefined when there is none to wait for (none opened, or the connection has failed).
   */
  end(): Promise<void> | undefined {
    this.#closing = true
    const channel = this.#channel
    if (channel === undefined || this.#requests.failure !== undefined) return undefined
    return new Promise<void>((resolve) => {
      channel.once('close', () => resolve())
      channel.end()
    })
  }

  #open(): Promise<SftpSession> {
    return this.#requests.track<SftpSession>(
      'opening the SFTP session',
      this.#idleTimeoutMs,
      (resolve, reject) => {
        this.#client.sftp((error, sftp) => {
          if (error !== undefined) {
            reject(sftpStartError(error, this.#label))
            return
          }
          this.#channel = sftp
          this.#watch(sftp)
          resolve(wrapSftp(sftp, trackedRequest(this.#requests, this.#idleTimeoutMs)))
        })
      }
    )
  }

  /** The session's error, or its end before the connection closes, fails the connection. */
  #watch(sftp: SFTPWrapper): void {
    const label = this.#label
    sftp.on('error', (channelError: Error) =>
      this.#requests.fail(
        new DeployError('connection-lost', `${label}: SFTP channel error: ${channelError.message}`)
      )
    )
    sftp.on('close', () => {
      if (this.#requests.failure === undefined && !this.#closing)
        this.#requests.fail(new DeployError('connection-lost', `${label}: the SFTP session ended`))
    })
  }
}

/** SFTP requests over `requests`, each allowed `idleTimeoutMs` of silence. */
function trackedRequest(requests: RequestTracker, idleTimeoutMs: number): SftpRequest {
  return <T>(
    operation: string,
    path: string,
    start: (callback: Callback<T>) => void,
    expected?: ExpectedStatus<T>
  ): Promise<T> =>
    requests.track<T>(`${operation} ${path}`, idleTimeoutMs, (resolve, reject) => {
      start((error, value) => {
        if (error === null || error === undefined) resolve(value as T)
        else if (expected !== undefined && (error as { code?: unknown }).code === expected.status)
          resolve(expected.value)
        else reject(classifySftpError(error, operation, path))
      })
    })
}

/** ssh2's SFTPWrapper as an SftpSession: every request tracked, every error a DeployError. */
function wrapSftp(sftp: SFTPWrapper, request: SftpRequest): SftpSession {
  const stat =
    (operation: 'stat' | 'lstat') =>
    (path: string): Promise<RemoteStat | undefined> =>
      request<RemoteStat | undefined>(
        operation,
        path,
        (cb) =>
          sftp[operation](path, (error, stats) => cb(error, error ? undefined : toStat(stats))),
        { status: SFTP_STATUS.NO_SUCH_FILE, value: undefined }
      )
  return {
    ...limits(sftp),
    stat: stat('stat'),
    lstat: stat('lstat'),
    readlink: (path) =>
      request<string>('readlink', path, (cb) => sftp.readlink(path, (e, t) => cb(e, t))),
    symlink: (target, linkPath) =>
      request<undefined>('symlink', linkPath, (cb) => sftp.symlink(target, linkPath, (e) => cb(e))),
    mkdir: (path) => request<undefined>('mkdir', path, (cb) => sftp.mkdir(path, (e) => cb(e))),
    realpath: (path) =>
      request<string>('realpath', path, (cb) => sftp.realpath(path, (e, p) => cb(e, p))),
    open: (path, flags, mode) =>
      request<RemoteHandle>('open', path, (cb) => {
        sftp.open(path, flags, mode === undefined ? {} : { mode }, (e, handle) => cb(e, handle))
      }),
    write: (handle, data, length, position) =>
      request<undefined>('write', `at ${position}`, (cb) =>
        sftp.write(handle, data, 0, length, position, (e) => cb(e))
      ),
    read: (handle, into, length, position) =>
      request<number>(
        'read',
        `at ${position}`,
        (cb) => sftp.read(handle, into, 0, length, position, (e, bytesRead) => cb(e, bytesRead)),
        { status: SFTP_STATUS.EOF, value: 0 }
      ),
    close: (handle) =>
      request<undefined>('close', 'handle', (cb) => sftp.close(handle, (e) => cb(e))),
    posixRename: (from, to) =>
      request<undefined>('rename', `${from} -> ${to}`, (cb) =>
        sftp.ext_openssh_rename(from, to, (e) => cb(e))
      ),
    rename: (from, to) =>
      request<undefined>('rename', `${from} -> ${to}`, (cb) => sftp.rename(from, to, (e) => cb(e))),
    hardlink: (from, to) =>
      request<undefined>('hardlink', `${from} -> ${to}`, (cb) =>
        sftp.ext_openssh_hardlink(from, to, (e) => cb(e))
      ),
    unlink: (path) => request<undefined>('unlink', path, (cb) => sftp.unlink(path, (e) => cb(e))),
    rmdir: (path) => request<undefined>('rmdir', path, (cb) => sftp.rmdir(path, (e) => cb(e))),
    readdir: (path) =>
      request<DirectoryEntry[]>('readdir', path, (cb) =>
        sftp.readdir(path, (error, list) =>
          cb(
            error,
            error
              ? undefined
              : list
                  .filter((item) => item.filename !== '.' && item.filename !== '..')
                  .map((item) => ({ name: item.filename, stat: toStat(item.attrs) }))
          )
        )
      ),
    statvfs: (path) =>
      hasExtension(sftp, 'statvfs@openssh.com')
        ? request<FileSystemSpace>('statvfs', path, (cb) => statvfs(sftp, path, cb))
        : Promise.resolve(undefined)
  }
}

/** What ssh2 learnt of the server when the session started. */
interface Ssh2SftpInternals {
  readonly _maxWriteLen?: unknown
  readonly _maxReadLen?: unknown
  readonly _extensions?: Record<string, string>
}

function limits(
  sftp: SFTPWrapper
): Pick<SftpSession, 'maxWriteLength' | 'maxReadLength' | 'hasPosixRename' | 'hasHardlink'> {
  const internals = sftp as unknown as Ssh2SftpInternals
  return {
    maxWriteLength: positiveOr(internals._maxWriteLen, DEFAULT_MAX_LENGTH),
    maxReadLength: positiveOr(internals._maxReadLen, DEFAULT_MAX_LENGTH),
    hasPosixRename: hasExtension(sftp, 'posix-rename@openssh.com'),
    hasHardlink: hasExtension(sftp, 'hardlink@openssh.com')
  }
}

function hasExtension(sftp: SFTPWrapper, name: string): boolean {
  return (sftp as unknown as Ssh2SftpInternals)._extensions?.[name] !== undefined
}

function positiveOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && value > 0 ? value : fallback
}

function statvfs(sftp: SFTPWrapper, path: string, cb: Callback<FileSystemSpace>): void {
  sftp.ext_openssh_statvfs(path, (e, info: Record<string, unknown> | undefined) => {
    if (e !== undefined) {
      cb(e)
      return
    }
    const available = Number(info?.f_bavail ?? 0) * Number(info?.f_frsize ?? info?.f_bsize ?? 0)
    // ST_RDONLY is bit 0 of f_flag (PROTOCOL: SSH2_FXE_STATVFS_ST_RDONLY).
    cb(undefined, {
      availableBytes: available,
      readOnly: (Number(info?.f_flag ?? 0) & 1) === 1
    })
  })
}

function toStat(stats: Stats): RemoteStat {
  return {
    size: stats.size,
    mode: stats.mode,
    isFile: stats.isFile(),
    isDirectory: stats.isDirectory(),
    isSymbolicLink: stats.isSymbolicLink(),
    ...(typeof stats.mtime === 'number' ? { mtimeMs: stats.mtime * 1000 } : {})
  }
}
