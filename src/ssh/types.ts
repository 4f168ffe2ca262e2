// What the rest of the action sees of an SSH connection: promises that always settle, typed
// errors, no ssh2 object. The ssh/ modules implement it; deploy/, transfer/ and remote/ take it,
// and their unit tests fake it.

import type { Duplex } from 'node:stream'
import type { DeployError, HostKeyError } from '../errors.js'

/** A host key's verdict: trusted, or the error the connection fails with. */
export type HostKeyCheck =
  { readonly ok: true } | { readonly ok: false; readonly error: HostKeyError }

export interface ConnectOptions {
  readonly host: string
  readonly port: number
  readonly username: string
  readonly privateKey: string | undefined
  readonly passphrase: string | undefined
  /** Keys tried in turn after `privateKey`, each with its passphrase. */
  readonly moreKeys?: readonly { readonly key: string; readonly passphrase: string | undefined }[]
  readonly password: string | undefined
  /** An ssh-agent's socket path, tried first. */
  readonly agent?: string
  /** Called with the server's public key blob during key exchange. */
  readonly checkHostKey: (blob: Buffer) => HostKeyCheck
  /** Host key algorithms to offer; undefined for ssh2's defaults. */
  readonly hostKeyAlgorithms: readonly string[] | undefined
  readonly connectTimeoutMs: number
  readonly idleTimeoutMs: number
  readonly keepaliveIntervalMs: number
  readonly keepaliveCountMax: number
  readonly signal: AbortSignal
  /** `user@host:port`, for messages. */
  readonly label: string
  /**
   * Where given, the connection runs over this stream (a TCP connection a jump host forwarded:
   * see SshConnection.forward) instead of a new TCP connection of its own.
   */
  readonly sock?: Duplex
  /**
   * Over `sock`: why the connection that carries it (a jump host's) failed, once it has. Where
   * it gives a reason, that is why this connection ended, rather than "the connection closed".
   */
  readonly carrierFailure?: () => DeployError | undefined
}

export interface RemoteStat {
  readonly size: number
  readonly mode: number
  readonly isFile: boolean
  readonly isDirectory: boolean
  /** Only from lstat: stat follows links. */
  readonly isSymbolicLink: boolean
  /** Last modified, ms since the epoch, where the server says. */
  readonly mtimeMs?: number
}

export interface DirectoryEntry {
  readonly name: string
  readonly stat: RemoteStat
}

export interface ExecResult {
  readonly code: number | null
  readonly signal: string | undefined
  readonly stdout: string
  readonly stderr: string
  /** Given up at `timeoutMs` (its channel closed; it may still run on the host). */
  readonly timedOut?: boolean
  /** Given up when `signal` aborted (likewise). */
  readonly aborted?: boolean
}

export interface ExecOptions {
  /** How long the command may go without a byte of output (default: the idle timeout). */
  readonly allowanceMs?: number
  /** Given up after this long, output or not (the result says `timedOut`). */
  readonly timeoutMs?: number
  /** Given up when this aborts (the result says `aborted`). */
  readonly signal?: AbortSignal
  /**
   * Keep the end of a long output rather than its start (and its first 256 bytes); such a
   * command (a user's script) may print any amount. Otherwise more than 16 MiB ends it.
   */
  readonly keep?: 'head' | 'tail'
  /** Called with each chunk of stderr as it comes (what is said before a failure is known). */
  readonly onStderr?: (chunk: Buffer) => void
}

export type RemoteHandle = Buffer

export interface SftpSession {
  /** Largest write the server accepts in one request (OpenSSH: 261120 via limits@openssh.com). */
  readonly maxWriteLength: number
  readonly maxReadLength: number
  /** Whether the server offers posix-rename@openssh.com (atomic replace). */
  readonly hasPosixRename: boolean
  /** Whether the server offers hardlink@openssh.com. */
  readonly hasHardlink: boolean
  /** Undefined when nothing exists at `path`. */
  stat(path: string): Promise<RemoteStat | undefined>
  /** As stat, but a symbolic link is described itself, not what it points to. */
  lstat(path: string): Promise<RemoteStat | undefined>
  /** A symbolic link's target text. */
  readlink(path: string): Promise<string>
  /** Makes a symbolic link at `linkPath` whose target text is `target`. */
  symlink(target: string, linkPath: string): Promise<void>
  mkdir(path: string): Promise<void>
  realpath(path: string): Promise<string>
  open(path: string, flags: 'r' | 'w' | 'r+' | 'wx', mode?: number): Promise<RemoteHandle>
  /**
   * Writes `length` bytes of `data` at `position`. The data is sent without a copy: it must
   * stay unchanged until the returned promise settles.
   */
  write(handle: RemoteHandle, data: Buffer, length: number, position: number): Promise<void>
  /** Reads into `into`; resolves with the number of bytes read, 0 at end of file. */
  read(handle: RemoteHandle, into: Buffer, length: number, position: number): Promise<number>
  close(handle: RemoteHandle): Promise<void>
  /** Atomic replace: posix-rename@openssh.com. */
  posixRename(from: string, to: string): Promise<void>
  /** SFTP's own rename: OpenSSH's fails where `to` exists (link, then unlink). */
  rename(from: string, to: string): Promise<void>
  /** A hard link at `to` of the file at `from` (hardlink@openssh.com; fails where `to` exists). */
  hardlink(from: string, to: string): Promise<void>
  unlink(path: string): Promise<void>
  rmdir(path: string): Promise<void>
  /**
   * The entries of a directory (not `.` and `..`), each described as lstat would describe it:
   * a symbolic link is a link, whatever it points to.
   */
  readdir(path: string): Promise<DirectoryEntry[]>
  /** Space at `path` (statvfs@openssh.com); undefined when the server does not offer it. */
  statvfs(path: string): Promise<FileSystemSpace | undefined>
}

export interface FileSystemSpace {
  /** Bytes an unprivileged writer may still use. */
  readonly availableBytes: number
  readonly readOnly: boolean
}

/**
 * A long-running remote command fed over stdin: one exec channel serves many requests, so the
 * cost of starting a session (and the login shell) is paid once per connection.
 */
export interface CommandChannel {
  /**
   * Writes `input` to the command's stdin and resolves with the lines of its output that start
   * with `prefix` (other output is ignored), up to the line `terminator` (not included).
   * Rejects when the command ends first. With `input` empty, only waits for the answer.
   */
  request(
    input: string,
    terminator: string,
    allowanceMs: number,
    /** The answer's lines, all together, hold at most this many characters (default 1 MiB). */
    maxAnswerChars?: number
  ): Promise<string[]>
  /** Writes `input` to the command's stdin, expecting no answer. */
  write(input: string): void
  /**
   * Streams `input` to the command's stdin, waiting whenever the channel's window is full, then
   * ends stdin. Rejects with a `local-file` error when `input` fails (the command is ended).
   */
  send(input: AsyncIterable<Buffer>): Promise<void>
  /** Ends the command (pending requests are rejected). */
  close(): void
}

export interface SshConnection {
  /** The connection's one SFTP session (opened on first use). */
  sftp(): Promise<SftpSession>
  /** Runs a command; resolves with its exit status and output (stdin is closed at once). */
  exec(command: string, options?: ExecOptions): Promise<ExecResult>
  /**
   * Runs `command` with `input` streamed to its stdin (with backpressure), then closes stdin;
   * resolves with its exit status and output.
   */
  streamToCommand(command: string, input: AsyncIterable<Buffer>): Promise<ExecResult>
  /** Starts `command` on an exec channel for line-oriented requests (see CommandChannel). */
  openCommandChannel(command: string, prefix: string): Promise<CommandChannel>
  /**
   * A TCP connection from the server to `host`:`port` (a `direct-tcpip` channel, as `ssh -J`
   * opens): a stream for the next connection of a jump chain to run over. Rejects with a
   * `permission` error where the server refuses to forward (AllowTcpForwarding no), `network`
   * where the next host refuses or cannot be reached.
   */
  forward(host: string, port: number): Promise<Duplex>
  /** Resolves when the connection has failed or ended: the reason, or undefined if closed. */
  readonly failure: DeployError | undefined
  /** Ends the SFTP session and the connection, waiting briefly for both to close. */
  close(): Promise<void>
}
