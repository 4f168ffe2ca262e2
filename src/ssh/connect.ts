// The one module that talks to ssh2. Everything else sees SshConnection and SftpSession:
// promises that always settle. ssh2 can leave a request unanswered forever (ssh2 #947, #421),
// and an unhandled 'error' event on any of its objects would end the whole process, so here:
// - every ssh2 object gets an 'error' listener before it can emit one;
// - every request is tracked, and a watchdog fails them all when nothing has arrived from the
//   server for `idleTimeoutMs` while one is waiting;
// - the connection's end, an abort of the caller's signal, and a connect timeout each settle
//   every pending request with a typed error.

import { createConnection, type Socket } from 'node:net'
import { StringDecoder } from 'node:string_decoder'
import { classifyConnectError, classifySftpError, SFTP_STATUS } from './classify.js'
import { clientConfig, promptAnswers } from './client-config.js'
import { coalesceWrites } from './coalesce-writes.js'
import { ChannelRefusedError, ConnectionEndedError, DeployError, errorMessage } from '../errors.js'
import { Client, type ClientChannel, type SFTPWrapper, type Stats } from './ssh2.js'

import type {
  CommandChannel,
  ConnectOptions,
  ExecResult,
  FileSystemSpace,
  RemoteHandle,
  RemoteStat,
  SftpSession,
  SshConnection
} from './types.js'

interface PendingOp {
  readonly label: string
  readonly startedAt: number
  readonly allowanceMs: number
  readonly reject: (error: DeployError) => void
}

const WATCHDOG_TICK_MS = 250
const CLOSE_GRACE_MS = 2000
// What a server sends is held within bounds, whatever it sends: a command's output is kept up
// to MAX_KEPT_OUTPUT per stream (the rest is read and dropped) and the command is ended past
// MAX_COMMAND_OUTPUT; a line of a command channel is at most MAX_LINE characters long, and an
// answer at most its request's bound.
const MAX_KEPT_OUTPUT = 64 * 1024
const MAX_COMMAND_OUTPUT = 16 * 1024 * 1024
const MAX_LINE = 64 * 1024
const DEFAULT_MAX_ANSWER = 1024 * 1024

function abortError(signal: AbortSignal, label: string): DeployError {
  const reason: unknown = signal.reason
  if (reason instanceof DeployError) return reason
  return new DeployError('aborted', `${label}: cancelled (${errorMessage(reason)})`, {
    cause: reason
  })
}

function toStat(stats: Stats): RemoteStat {
  return {
    size: stats.size,
    mode: stats.mode,
    isFile: stats.isFile(),
    isDirectory: stats.isDirectory(),
    isSymbolicLink: stats.isSymbolicLink()
  }
}

/**
 * Opens a connection and authenticates. Rejects with a DeployError: `host-key` when the server's
 * key is not trusted (the key exchange stops there; nothing else is sent), `auth`, `timeout`,
 * `network` or `connection-lost`.
 */
export async function connect(options: ConnectOptions): Promise<SshConnection> {
  const { label, signal } = options
  if (signal.aborted) throw abortError(signal, label)

  const client = new Client()
  const pending = new Set<PendingOp>()
  let lastActivity = Date.now()
  let failure: DeployError | undefined
  let hostKeyFailure: DeployError | undefined
  let sftpPromise: Promise<SftpSession> | undefined
  let sftpChannel: SFTPWrapper | undefined
  let settleConnect: ((error?: DeployError) => void) | undefined
  let connected = false

  const touch = (): void => {
    lastActivity = Date.now()
  }

  // The first failure wins; every waiting request and the connect itself settle with it.
  // Once the connection is up, its failure is a ConnectionEndedError: every request that was
  // waiting, and every one asked afterwards, rejects with it. Before, connect rejects with the
  // error as it is (a HostKeyError, an authentication failure).
  const fail = (error: DeployError): void => {
    if (failure !== undefined) return
    const ended = connected ? new ConnectionEndedError(error) : error
    failure = ended
    for (const op of [...pending]) op.reject(ended)
    pending.clear()
    settleConnect?.(ended)
    client.destroy()
  }

  const watchdog = setInterval(() => {
    if (pending.size === 0) return
    const now = Date.now()
    const quiet = now - lastActivity
    for (const op of pending) {
      if (quiet > op.allowanceMs && now - op.startedAt > op.allowanceMs) {
        fail(
          new DeployError(
            'timeout',
            `${label}: no data from the server for ${Math.round(quiet / 1000)}s during ${op.label}; the connection is stalled`
          )
        )
        return
      }
    }
  }, WATCHDOG_TICK_MS)
  watchdog.unref()

  const onAbort = (): void => fail(abortError(signal, label))
  signal.addEventListener('abort', onAbort, { once: true })

  const closed = new Promise<void>((resolve) => {
    client.once('close', () => resolve())
  })

  client.on('error', (error: Error) => {
    const classified = hostKeyFailure ?? classifyConnectError(error, label)
    fail(classified)
  })
  client.on('close', () => {
    clearInterval(watchdog)
    signal.removeEventListener('abort', onAbort)
    fail(new DeployError('connection-lost', `${label}: the connection closed`))
  })
  client.on('keyboard-interactive', (_name, _instructions, _lang, prompts, finish) => {
    finish(promptAnswers(options, prompts))
  })

  const track = <T>(
    opLabel: string,
    allowanceMs: number,
    start: (resolve: (value: T) => void, reject: (error: DeployError) => void) => void
  ): Promise<T> => {
    if (failure !== undefined) return Promise.reject(failure)
    return new Promise<T>((resolve, reject) => {
      const op: PendingOp = { label: opLabel, startedAt: Date.now(), allowanceMs, reject }
      pending.add(op)
      const finish = (): boolean => {
        if (!pending.delete(op)) return false
        touch()
        return true
      }
      try {
        start(
          (value) => {
            if (finish()) resolve(value)
          },
          (error) => {
            if (finish()) reject(error)
          }
        )
      } catch (error) {
        if (finish()) reject(classifySftpError(error, opLabel, ''))
      }
    })
  }

  const idle = options.idleTimeoutMs

  const openSftp = (): Promise<SftpSession> =>
    track<SftpSession>('opening the SFTP session', idle, (resolve, reject) => {
      client.sftp((error, sftp) => {
        if (error !== undefined) {
          reject(sftpStartError(error, label))
          return
        }
        sftpChannel = sftp
        sftp.on('error', (channelError: Error) =>
          fail(
            new DeployError(
              'connection-lost',
              `${label}: SFTP channel error: ${channelError.message}`
            )
          )
        )
        sftp.on('close', () => {
          if (failure === undefined && !closing)
            fail(new DeployError('connection-lost', `${label}: the SFTP session ended`))
        })
        resolve(wrapSftp(sftp))
      })
    })

  const sftpRequest = <T>(
    operation: string,
    path: string,
    start: (callback: (error: Error | null | undefined, value?: T) => void) => void,
    // Turns an expected error status into a value ({ value }), or names the error.
    mapError?: (error: Error) => { value: T } | DeployError
  ): Promise<T> =>
    track<T>(`${operation} ${path}`, idle, (resolve, reject) => {
      start((error, value) => {
        if (error !== null && error !== undefined) {
          const mapped = mapError?.(error) ?? classifySftpError(error, operation, path)
          if (mapped instanceof DeployError) reject(mapped)
          else resolve(mapped.value)
          return
        }
        resolve(value as T)
      })
    })

  const wrapSftp = (sftp: SFTPWrapper): SftpSession => {
    const internals = sftp as unknown as {
      _maxWriteLen?: unknown
      _maxReadLen?: unknown
      _extensions?: Record<string, string>
    }
    const maxWriteLength =
      typeof internals._maxWriteLen === 'number' && internals._maxWriteLen > 0
        ? internals._maxWriteLen
        : 32 * 1024
    const maxReadLength =
      typeof internals._maxReadLen === 'number' && internals._maxReadLen > 0
        ? internals._maxReadLen
        : 32 * 1024
    const hasPosixRename = internals._extensions?.['posix-rename@openssh.com'] !== undefined
    const hasStatvfs = internals._extensions?.['statvfs@openssh.com'] !== undefined

    return {
      maxWriteLength,
      maxReadLength,
      hasPosixRename,
      stat: (path) =>
        sftpRequest<RemoteStat | undefined>(
          'stat',
          path,
          (cb) => sftp.stat(path, (error, stats) => cb(error, error ? undefined : toStat(stats))),
          (error) =>
            (error as { code?: unknown }).code === SFTP_STATUS.NO_SUCH_FILE
              ? { value: undefined }
              : classifySftpError(error, 'stat', path)
        ),
      lstat: (path) =>
        sftpRequest<RemoteStat | undefined>(
          'lstat',
          path,
          (cb) => sftp.lstat(path, (error, stats) => cb(error, error ? undefined : toStat(stats))),
          (error) =>
            (error as { code?: unknown }).code === SFTP_STATUS.NO_SUCH_FILE
              ? { value: undefined }
              : classifySftpError(error, 'lstat', path)
        ),
      readlink: (path) =>
        sftpRequest<string>('readlink', path, (cb) => sftp.readlink(path, (e, t) => cb(e, t))),
      symlink: (target, linkPath) =>
        sftpRequest<undefined>('symlink', linkPath, (cb) =>
          sftp.symlink(target, linkPath, (e) => cb(e))
        ),
      mkdir: (path) =>
        sftpRequest<undefined>('mkdir', path, (cb) => sftp.mkdir(path, (e) => cb(e))),
      realpath: (path) =>
        sftpRequest<string>('realpath', path, (cb) => sftp.realpath(path, (e, p) => cb(e, p))),
      open: (path, flags, mode) =>
        sftpRequest<RemoteHandle>('open', path, (cb) => {
          sftp.open(path, flags, mode === undefined ? {} : { mode }, (e, handle) => cb(e, handle))
        }),
      write: (handle, data, length, position) =>
        sftpRequest<undefined>('write', `at ${position}`, (cb) =>
          sftp.write(handle, data, 0, length, position, (e) => cb(e))
        ),
      read: (handle, into, length, position) =>
        sftpRequest<number>(
          'read',
          `at ${position}`,
          (cb) => sftp.read(handle, into, 0, length, position, (e, bytesRead) => cb(e, bytesRead)),
          (error) =>
            (error as { code?: unknown }).code === SFTP_STATUS.EOF
              ? { value: 0 }
              : classifySftpError(error, 'read', `at ${position}`)
        ),
      close: (handle) =>
        sftpRequest<undefined>('close', 'handle', (cb) => sftp.close(handle, (e) => cb(e))),
      posixRename: (from, to) =>
        sftpRequest<undefined>('rename', `${from} -> ${to}`, (cb) =>
          sftp.ext_openssh_rename(from, to, (e) => cb(e))
        ),
      unlink: (path) =>
        sftpRequest<undefined>('unlink', path, (cb) => sftp.unlink(path, (e) => cb(e))),
      rmdir: (path) =>
        sftpRequest<undefined>('rmdir', path, (cb) => sftp.rmdir(path, (e) => cb(e))),
      statvfs: (path) => {
        if (!hasStatvfs) return Promise.resolve(undefined)
        return sftpRequest<FileSystemSpace>('statvfs', path, (cb) => {
          sftp.ext_openssh_statvfs(path, (e, info: Record<string, unknown> | undefined) => {
            if (e !== undefined) {
              cb(e)
              return
            }
            const available =
              Number(info?.f_bavail ?? 0) * Number(info?.f_frsize ?? info?.f_bsize ?? 0)
            // ST_RDONLY is bit 0 of f_flag (PROTOCOL: SSH2_FXE_STATVFS_ST_RDONLY).
            cb(undefined, {
              availableBytes: available,
              readOnly: (Number(info?.f_flag ?? 0) & 1) === 1
            })
          })
        })
      }
    }
  }

  /** Opens an exec channel; a refusal (exec forbidden, MaxSessions reached) is a DeployError. */
  const openExec = (
    command: string,
    reject: (error: DeployError) => void,
    use: (stream: ClientChannel) => void
  ): void => {
    client.exec(command, (error, stream: ClientChannel) => {
      if (error !== undefined) {
        reject(
          new ChannelRefusedError(
            `${label}: the server refused to run a command (${error.message})`,
            { cause: error }
          )
        )
        return
      }
      use(stream)
    })
  }

  const exec = (command: string, execOptions: { allowanceMs?: number } = {}): Promise<ExecResult> =>
    track<ExecResult>('a remote command', execOptions.allowanceMs ?? idle, (resolve, reject) => {
      openExec(command, reject, (stream) => {
        const output = collectOutput(stream, touch, () => {
          reject(floodError(label))
          stream.close()
        })
        stream.on('error', (streamError: Error) =>
          reject(
            new DeployError(
              'connection-lost',
              `${label}: command channel error: ${streamError.message}`
            )
          )
        )
        stream.on('close', () => resolve(output.result()))
        stream.end()
      })
    })

  /**
   * Writes `input` into a channel's stdin, waiting for 'drain' whenever its window is full, and
   * ends stdin; stops early once `stopped()` (the channel has closed).
   */
  const pipeInto = async (
    stream: ClientChannel,
    input: AsyncIterable<Buffer>,
    stopped: () => boolean
  ): Promise<void> => {
    for await (const chunk of input) {
      if (stopped()) return
      // Each chunk the channel takes is progress; a full window waits for 'drain'.
      if (!stream.write(chunk))
        await new Promise<void>((drained) => {
          const done = (): void => {
            stream.off('drain', done)
            stream.off('close', done)
            drained()
          }
          stream.on('drain', done)
          stream.on('close', done)
        })
      touch()
    }
    stream.end()
  }

  const streamToCommand = (command: string, input: AsyncIterable<Buffer>): Promise<ExecResult> =>
    track<ExecResult>('sending a stream to a remote command', idle, (resolve, reject) => {
      openExec(command, reject, (stream) => {
        const channel = { closed: false }
        const output = collectOutput(stream, touch, () => {
          reject(floodError(label))
          stream.close()
        })
        stream.on('error', () => undefined)
        stream.on('close', () => {
          channel.closed = true
          resolve(output.result())
        })
        void (async () => {
          try {
            await pipeInto(stream, input, () => channel.closed)
          } catch (error) {
            // The input failed (a local file could not be read): stop the command.
            stream.close()
            reject(inputError(error))
          }
        })()
      })
    })

  // Set once the socket exists, before any channel can be opened.
  let flushWrites = (): void => undefined
  const openCommandChannel = (command: string, prefix: string): Promise<CommandChannel> =>
    track<CommandChannel>('starting a remote command', idle, (resolve, reject) => {
      openExec(command, reject, (stream) => {
        interface Waiter {
          readonly terminator: string
          readonly maxAnswerChars: number
          readonly resolve: (lines: string[]) => void
          readonly reject: (error: DeployError) => void
        }
        const waiters: Waiter[] = []
        let lines: string[] = []
        let answerChars = 0
        let partial = ''
        let ended = false
        const decoder = new StringDecoder('utf8')
        const end = (reason: string | DeployError): void => {
          if (ended) return
          ended = true
          const error =
            failure ??
            (reason instanceof DeployError
              ? reason
              : new DeployError('remote-failure', `${label}: ${reason}`))
          for (const waiter of waiters.splice(0)) waiter.reject(error)
        }
        // Output past the bounds is not ours: the channel ends as a protocol error.
        const overflow = (what: string): void => {
          end(
            new DeployError(
              'protocol',
              `${label}: a remote command sent ${what}: its output is not ours (does the account force a command?)`
            )
          )
          lines = []
          partial = ''
          stream.close()
        }
        stream.on('data', (chunk: Buffer) => {
          touch()
          if (ended) return
          const parts = (partial + decoder.write(chunk)).split('\n')
          partial = parts.pop() ?? ''
          if (partial.length > MAX_LINE)
            return overflow(`a line longer than ${MAX_LINE / 1024} KiB`)
          for (const line of parts) {
            if (!line.startsWith(prefix)) continue
            const head = waiters[0]
            if (head !== undefined && line === head.terminator) {
              waiters.shift()
              head.resolve(lines)
              lines = []
              answerChars = 0
              continue
            }
            answerChars += line.length
            if (answerChars > (head?.maxAnswerChars ?? DEFAULT_MAX_ANSWER))
              return overflow('more output than the request it answers can have')
            lines.push(line)
          }
        })
        stream.stderr.on('data', touch)
        stream.on('error', () => end('the remote command channel failed'))
        stream.stderr.on('error', () => undefined)
        stream.on('close', () => end('the remote command ended'))
        resolve({
          request: (input, terminator, allowanceMs, maxAnswerChars = DEFAULT_MAX_ANSWER) => {
            if (ended)
              return Promise.reject(
                failure ?? new DeployError('remote-failure', `${label}: the remote command ended`)
              )
            return track<string[]>('a remote command', allowanceMs, (done, fail) => {
              waiters.push({ terminator, maxAnswerChars, resolve: done, reject: fail })
              if (input === '') return
              stream.write(input)
              // A request is waited for: it goes now, not after whatever else this tick does
              // (queuing 10,000 staged files for hashing held the first batch back 80 ms).
              flushWrites()
            })
          },
          write: (input) => {
            if (!ended) stream.write(input)
          },
          send: (input) =>
            track<undefined>('sending a stream to a remote command', idle, (done, fail) => {
              pipeInto(stream, input, () => ended).then(
                () => done(undefined),
                (error: unknown) => {
                  end('the stream to the remote command failed')
                  stream.close()
                  fail(failure ?? inputError(error))
                }
              )
            }),
          close: () => {
            end('the remote command was closed')
            stream.end()
            stream.close()
          }
        })
      })
    })

  let closing = false
  const close = async (): Promise<void> => {
    closing = true
    const channel = sftpChannel
    if (channel !== undefined && failure === undefined) {
      // Let the server's sftp-server exit before the connection ends, or it is orphaned.
      await Promise.race([
        new Promise<void>((resolve) => {
          channel.once('close', () => resolve())
          channel.end()
        }),
        delay(CLOSE_GRACE_MS)
      ])
    }
    client.end()
    await Promise.race([closed, delay(CLOSE_GRACE_MS)])
    client.destroy()
    clearInterval(watchdog)
    signal.removeEventListener('abort', onAbort)
  }

  const connection: SshConnection = {
    sftp: () =>
      (sftpPromise ??= openSftp().catch((error: unknown) => {
        // Refused now (no session left), it may be granted later.
        sftpPromise = undefined
        throw error
      })),
    exec,
    streamToCommand,
    openCommandChannel,
    get failure() {
      return failure
    },
    close
  }

  const socket: Socket = createConnection({ host: options.host, port: options.port, noDelay: true })
  flushWrites = coalesceWrites(socket)
  // ssh2 reports socket errors through the client. Raw socket traffic does not count as
  // activity: keepalive replies would hide a stalled SFTP server behind a live sshd.
  socket.on('error', () => undefined)

  const config = clientConfig(options, socket, (error) => (hostKeyFailure = error))

  const connectTimer = setTimeout(() => {
    fail(
      new DeployError(
        'timeout',
        `${label}: no SSH session within ${options.connectTimeoutMs / 1000}s (TCP connect, handshake and authentication)`
      )
    )
  }, options.connectTimeoutMs)

  try {
    await new Promise<void>((resolve, reject) => {
      settleConnect = (error) => {
        settleConnect = undefined
        if (error === undefined) resolve()
        else reject(error)
      }
      client.once('ready', () => {
        touch()
        connected = true
        settleConnect?.()
      })
      try {
        client.connect(config)
      } catch (error) {
        fail(classifyConnectError(error, label))
      }
    })
  } finally {
    clearTimeout(connectTimer)
  }
  return connection
}

/**
 * A command's stdout and stderr, each kept up to MAX_KEPT_OUTPUT; `flooded` is called once the
 * two together pass MAX_COMMAND_OUTPUT (a command that will not stop talking).
 */
function collectOutput(
  stream: ClientChannel,
  touch: () => void,
  flooded: () => void
): { result(): ExecResult } {
  const kept = { stdout: [] as Buffer[], stderr: [] as Buffer[] }
  const sizes = { stdout: 0, stderr: 0 }
  let total = 0
  let code: number | null = null
  let exitSignal: string | undefined
  const collect = (into: 'stdout' | 'stderr') => (chunk: Buffer) => {
    touch()
    total += chunk.length
    const room = MAX_KEPT_OUTPUT - sizes[into]
    if (room > 0) {
      const part = chunk.length <= room ? chunk : chunk.subarray(0, room)
      kept[into].push(part)
      sizes[into] += part.length
    }
    if (total > MAX_COMMAND_OUTPUT) {
      total = -Infinity
      flooded()
    }
  }
  stream.on('data', collect('stdout'))
  stream.stderr.on('data', collect('stderr'))
  stream.stderr.on('error', () => undefined)
  stream.on('exit', (exitCode: number | null, signalName?: string) => {
    code = exitCode
    exitSignal = signalName
  })
  return {
    result: () => ({
      code,
      signal: exitSignal,
      stdout: Buffer.concat(kept.stdout).toString('utf8'),
      stderr: Buffer.concat(kept.stderr).toString('utf8')
    })
  }
}

function floodError(label: string): DeployError {
  return new DeployError(
    'protocol',
    `${label}: a remote command sent more than ${MAX_COMMAND_OUTPUT / 1024 / 1024} MiB of output: it is not ours (does the account force a command?)`
  )
}

/**
 * Why an SFTP session did not start. Text before the SFTP protocol's first packet (a login shell
 * that prints a banner) reads as an absurd packet length, which OpenSSH's sftp reports as
 * "Received message too long": that is no refusal, and asking again gets the same text.
 */
export function sftpStartError(error: Error, label: string): DeployError {
  const level = (error as { level?: unknown }).level
  const length = /Packet length (\d+) exceeds/.exec(error.message)?.[1]
  if (level === 'sftp-protocol' && length !== undefined) {
    const head = Buffer.alloc(4)
    head.writeUInt32BE(Number(length) >>> 0)
    const text = head.toString('latin1').replace(/[^\x20-\x7e]/g, '.')
    return new DeployError(
      'protocol',
      `${label}: the SFTP session began with text ('${text}…') instead of the SFTP protocol: the account's shell prints output for non-interactive sessions (a banner or echo in ~/.bashrc, say); make it quiet, as OpenSSH's sftp would say ("Received message too long ${length}")`,
      { cause: error }
    )
  }
  if (level === 'sftp-protocol')
    return new DeployError(
      'protocol',
      `${label}: the SFTP session failed as it started (${error.message})`,
      { cause: error }
    )
  return new ChannelRefusedError(
    `${label}: the server refused an SFTP session (${error.message})`,
    {
      cause: error
    }
  )
}

/** A stream's input failed: a DeployError as it is, anything else a local file that failed. */
function inputError(error: unknown): DeployError {
  return error instanceof DeployError
    ? error
    : new DeployError('local-file', errorMessage(error), { cause: error })
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref())
}
