// Opens an SSH connection: the socket, the handshake, and the race between 'ready', the connect
// timeout and the caller's abort. Everything else sees SshConnection and SftpSession: promises
// that always settle. An unhandled 'error' event on any ssh2 object would end the whole process,
// so every one gets an 'error' listener before it can emit one; the connection's end, an abort
// of the caller's signal and a connect timeout each settle every pending request with a typed
// error (see request-tracker.ts).

import { createConnection, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { classifyConnectError } from './classify.js'
import { clientConfig, promptAnswers } from './client-config.js'
import { coalesceWrites } from './coalesce-writes.js'
import { DeployError, errorMessage, type HostKeyError } from '../errors.js'
import { exec, streamToCommand } from './exec.js'
import { forwardOut } from './forward.js'
import { execOpener, type ExecContext } from './exec-channel.js'
import { openCommandChannel } from './line-channel.js'
import { RequestTracker } from './request-tracker.js'
import { SftpSessionSlot } from './sftp-session.js'
import { Client, type ConnectConfig } from './ssh2.js'
import type { ConnectOptions, SshConnection } from './types.js'

const CLOSE_GRACE_MS = 2000

/**
 * Opens a connection and authenticates. Rejects with a DeployError: `host-key` when the server's
 * key is not trusted (the key exchange stops there; nothing else is sent), `auth`, `timeout`,
 * `network` or `connection-lost`.
 */
export async function connect(options: ConnectOptions): Promise<SshConnection> {
  const { label, signal } = options
  if (signal.aborted) throw abortError(signal, label)

  const client = new Client()
  const ready = Promise.withResolvers<undefined>()
  const requests = new RequestTracker(label, (error) => {
    ready.reject(error)
    client.destroy()
  })
  const onAbort = (): void => requests.fail(abortError(signal, label))
  signal.addEventListener('abort', onAbort, { once: true })
  const release = (): void => {
    requests.stop()
    signal.removeEventListener('abort', onAbort)
  }
  let hostKeyFailure: HostKeyError | undefined
  const closed = watchClient(client, options, requests, () => hostKeyFailure, release)

  const { socket, flushWrites } = openSocket(options)
  const context: ExecContext = {
    label,
    idleTimeoutMs: options.idleTimeoutMs,
    requests,
    flushWrites,
    openExec: execOpener(client, label)
  }
  const sftp = new SftpSessionSlot(client, requests, label, options.idleTimeoutMs)
  const forwarding = { label, timeoutMs: options.connectTimeoutMs }
  const connection = assemble(client, context, forwarding, sftp, async () => {
    await withGrace(sftp.end())
    client.end()
    await withGrace(closed)
    client.destroy()
    release()
  })

  client.once('ready', () => {
    requests.connected()
    ready.resolve(undefined)
  })
  const config = clientConfig(options, socket, (error) => (hostKeyFailure = error))
  await handshake(client, config, options, requests, ready.promise)
  return connection
}

/**
 * Listens to the client: an error or its close fails the connection (a rejected host key as
 * itself), and keyboard-interactive prompts get the password. Resolves when the client closes.
 */
function watchClient(
  client: Client,
  options: ConnectOptions,
  requests: RequestTracker,
  hostKeyFailure: () => HostKeyError | undefined,
  release: () => void
): Promise<void> {
  const { label } = options
  const closed = new Promise<void>((resolve) => {
    client.once('close', () => resolve())
  })
  client.on('error', (error: Error & { level?: string }) => {
    // An agent that cannot be reached (SSH_AUTH_SOCK left from an old session) is passed over:
    // ssh2 goes on with the next way to authenticate, as OpenSSH does.
    if (error.level === 'agent') return
    requests.fail(
      hostKeyFailure() ?? options.carrierFailure?.() ?? classifyConnectError(error, label)
    )
  })
  client.on('close', () => {
    release()
    requests.fail(
      options.carrierFailure?.() ??
        new DeployError('connection-lost', `${label}: the connection closed`)
    )
  })
  client.on('keyboard-interactive', (_name, _instructions, _lang, prompts, finish) => {
    finish(promptAnswers(options, prompts))
  })
  return closed
}

/** Connects with `config` and waits for `ready`, the first failure, or the connect timeout. */
async function handshake(
  client: Client,
  config: ConnectConfig,
  options: ConnectOptions,
  requests: RequestTracker,
  ready: Promise<undefined>
): Promise<void> {
  const { label } = options
  const connectTimer = setTimeout(() => {
    requests.fail(
      new DeployError(
        'timeout',
        `${label}: no SSH session within ${options.connectTimeoutMs / 1000}s (TCP connect, handshake and authentication)`
      )
    )
  }, options.connectTimeoutMs)
  try {
    try {
      client.connect(config)
    } catch (error) {
      requests.fail(classifyConnectError(error, label))
    }
    await ready
  } finally {
    clearTimeout(connectTimer)
  }
}

/**
 * The stream the connection runs over: a new TCP connection (Nagle off, each tick's writes sent
 * as one), or the stream a jump host forwarded, whose writes its own connection coalesces.
 */
function openSocket(options: ConnectOptions): { socket: Duplex; flushWrites: () => void } {
  if (options.sock !== undefined) return { socket: options.sock, flushWrites: () => undefined }
  const socket: Socket = createConnection({ host: options.host, port: options.port, noDelay: true })
  // ssh2 reports socket errors through the client. Raw socket traffic does not count as
  // activity: keepalive replies would hide a stalled SFTP server behind a live sshd.
  socket.on('error', () => undefined)
  return { socket, flushWrites: coalesceWrites(socket) }
}

/** The SshConnection over `context`'s client: its requests, its SFTP session, `close`. */
function assemble(
  client: Client,
  context: ExecContext,
  forwarding: { readonly label: string; readonly timeoutMs: number },
  sftp: SftpSessionSlot,
  close: () => Promise<void>
): SshConnection {
  return {
    sftp: () => sftp.session(),
    exec: (command, options) => exec(context, command, options),
    streamToCommand: (command, input) => streamToCommand(context, command, input),
    openCommandChannel: (command, prefix) => openCommandChannel(context, command, prefix),
    forward: (host, port) => forwardOut(client, context.requests, forwarding, host, port),
    get failure() {
      return context.requests.failure
    },
    close
  }
}

function abortError(signal: AbortSignal, label: string): DeployError {
  const reason: unknown = signal.reason
  if (reason instanceof DeployError) return reason
  return new DeployError('aborted', `${label}: cancelled (${errorMessage(reason)})`, {
    cause: reason
  })
}

/** Waits for `ending`, CLOSE_GRACE_MS at most; nothing when there is nothing to wait for. */
async function withGrace(ending: Promise<void> | undefined): Promise<void> {
  if (ending === undefined) return
  await Promise.race([ending, delay(CLOSE_GRACE_MS)])
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref())
}
