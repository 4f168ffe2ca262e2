// Hosts behind jump hosts: each hop of a chain is an SSH connection of its own (its host key
// checked, its credentials, the connect timeout and keepalive), reached through a TCP connection
// the hop before it forwards (`direct-tcpip`, as `ssh -J` does). A hop's connection is shared by
// every host of the run that goes through the same hops with the same credentials and host key
// rules, and closed when the last of them is done; one that has failed is never handed out
// again, so a retry opens a new one.

import type { Duplex } from 'node:stream'
import type { Destination, Endpoint, Settings } from '../config/settings.js'
import { ConnectionEndedError, DeployError, errorMessage, HostKeyError } from '../errors.js'
import type { SshConnection } from '../ssh/types.js'
import { connectionIsUp } from '../transfer/connection-state.js'

/** Opens a connection to `endpoint`, over `sock` where given (openConnection). */
export type OpenEndpoint = (
  endpoint: Endpoint,
  settings: Settings,
  signal: AbortSignal,
  sock?: Duplex,
  carrierFailure?: () => DeployError | undefined
) => Promise<SshConnection>

interface SharedHop {
  readonly key: string
  readonly connection: Promise<SshConnection>
  users: number
}

/** A hop of `host`'s chain, for messages: `jump host deploy@bastion:22 (hop 1 of 2)`. */
function hopName(host: Destination, index: number): string {
  const hop = host.jump[index] as Endpoint
  return `jump host ${hop.label} (hop ${index + 1} of ${host.jump.length})`
}

/** `error`, told as a failure of `host`'s hop `index`: its class and kind kept, its message named. */
function atHop(host: Destination, index: number, error: unknown): DeployError {
  const hop = host.jump[index] as Endpoint
  const said = errorMessage(error).replace(new RegExp(`^${escapeRegExp(hop.label)}: `), '')
  return retold(error, `${host.label}: ${hopName(host, index)}: ${said}`)
}

/** `error` with another message, of the same class (a HostKeyError stays one) and kind. */
function retold(error: unknown, message: string): DeployError {
  if (error instanceof HostKeyError)
    return Object.assign(new HostKeyError(message, error.keyType, error.fingerprint), {
      cause: error
    })
  const kind = error instanceof DeployError ? error.kind : 'network'
  const told = new DeployError(kind, message, { cause: error })
  return error instanceof ConnectionEndedError ? new ConnectionEndedError(told) : told
}

/**
 * What went wrong on the way to a shared hop, told per host: the hop's connection failed, or
 * the hop before it could not forward to it.
 */
class HopFailure extends Error {
  constructor(
    readonly error: unknown,
    /** The hop `index` of the chain could not be reached: the forward to it failed. */
    readonly forwarding: boolean
  ) {
    super(errorMessage(error))
  }
}

/**
 * A failed forward from hop `index` of `host`'s chain, named: a hop that refuses to forward is
 * the one named; where the next hop cannot be reached, that next hop is.
 */
function forwardFailure(host: Destination, index: number, error: unknown): DeployError {
  const nextIsHop = index + 1 < host.jump.length
  if (!nextIsHop || !(error instanceof DeployError) || error.kind !== 'network')
    return atHop(host, index, error)
  const reason = error.cause instanceof Error ? ` (${error.cause.message})` : ''
  return atHop(
    host,
    index + 1,
    new DeployError(
      'network',
      `refused the connection from ${(host.jump[index] as Endpoint).label}, or could not be reached from it${reason}`,
      { cause: error }
    )
  )
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** Rejects with the signal's reason once it aborts, else settles as `promise` does. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error)
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

export class JumpConnections {
  readonly #hops = new Map<string, SharedHop>()
  readonly #ids = new WeakMap<object, number>()
  #nextId = 0

  /**
   * `root`: the run's signal; a hop's connection outlives any one host's attempt, so only the
   * run's end closes it early.
   */
  constructor(
    private readonly settings: Settings,
    private readonly root: AbortSignal,
    private readonly open: OpenEndpoint
  ) {}

  /** A connection to `host`: through its jump chain where it has one, else directly. */
  async connect(host: Destination, signal: AbortSignal): Promise<SshConnection> {
    if (host.jump.length === 0) return this.open(host, this.settings, signal)
    const held: SharedHop[] = []
    try {
      const hops: SshConnection[] = []
      for (let index = 0; index < host.jump.length; index += 1)
        hops.push(await this.#through(host, index, hops.at(-1), held, signal))
      const last = host.jump.length - 1
      const sock = await (hops[last] as SshConnection)
        .forward(host.host, host.port)
        .catch((error: unknown) => {
          throw forwardFailure(host, last, error)
        })
      const connection = await openOver(this.open, host, this.settings, signal, sock, () =>
        firstFailedHop(host, hops)
      )
      return releasing(connection, () => this.#release(held))
    } catch (error) {
      this.#release(held)
      throw error
    }
  }

  /**
   * The connection to `host`'s hop `index` (reached through `via`), added to `held`: the one
   * shared, or a new one where none is, or where the one shared has failed since.
   */
  async #through(
    host: Destination,
    index: number,
    via: SshConnection | undefined,
    held: SharedHop[],
    signal: AbortSignal
  ): Promise<SshConnection> {
    const key = this.#key(host.jump.slice(0, index + 1))
    for (;;) {
      const entry = this.#hops.get(key) ?? this.#openHop(host, index, key, via)
      entry.users += 1
      held.push(entry)
      let connection: SshConnection
      try {
        connection = await untilAborted(entry.connection, signal)
      } catch (error) {
        if (!(error instanceof HopFailure)) throw error
        throw error.forwarding
          ? forwardFailure(host, index - 1, error.error)
          : atHop(host, index, error.error)
      }
      if (connectionIsUp(connection)) return connection
      // Failed since it was opened: handed out no more.
      if (this.#hops.get(key) === entry) this.#hops.delete(key)
      held.pop()
      this.#release([entry])
    }
  }

  /** A new shared connection to `host`'s hop `index`, through `via`; its failure a HopFailure. */
  #openHop(
    host: Destination,
    index: number,
    key: string,
    via: SshConnection | undefined
  ): SharedHop {
    const hop = host.jump[index] as Endpoint
    const connection = (async () => {
      const sock =
        via === undefined
          ? undefined
          : await via.forward(hop.host, hop.port).catch((error: unknown) => {
              throw new HopFailure(error, true)
            })
      return openOver(this.open, hop, this.settings, this.root, sock).catch((error: unknown) => {
        throw new HopFailure(error, false)
      })
    })()
    const entry: SharedHop = { key, connection, users: 0 }
    this.#hops.set(key, entry)
    connection.catch(() => {
      if (this.#hops.get(key) === entry) this.#hops.delete(key)
    })
    return entry
  }

  /** One user fewer for each of `entries`; a hop nobody uses any more is closed. */
  #release(entries: readonly SharedHop[]): void {
    for (const entry of entries) {
      entry.users -= 1
      if (entry.users > 0) continue
      if (this.#hops.get(entry.key) === entry) this.#hops.delete(entry.key)
      void entry.connection.then((connection) => connection.close()).catch(() => undefined)
    }
  }

  /** Hops are shared only with the same endpoints, credentials and host key rules, in order. */
  #key(hops: readonly Endpoint[]): string {
    return hops
      .map((hop) => `${hop.label}#${this.#id(hop.credentials)}#${this.#id(hop.hostKeys)}`)
      .join('>')
  }

  #id(value: object): number {
    let id = this.#ids.get(value)
    if (id === undefined) {
      id = this.#nextId
      this.#nextId += 1
      this.#ids.set(value, id)
    }
    return id
  }
}

/**
 * Why a connection through `hops` ended where one of them failed: the first hop that did, named
 * (a hop's keepalive timeout, say, rather than "the connection closed" of the host behind it).
 */
function firstFailedHop(
  host: Destination,
  hops: readonly SshConnection[]
): DeployError | undefined {
  const index = hops.findIndex((hop) => !connectionIsUp(hop))
  return index < 0 ? undefined : atHop(host, index, hops[index]?.failure)
}

/** A connection over `sock`; a stream the connection never took is closed. */
async function openOver(
  open: OpenEndpoint,
  endpoint: Endpoint,
  settings: Settings,
  signal: AbortSignal,
  sock: Duplex | undefined,
  carrierFailure?: () => DeployError | undefined
): Promise<SshConnection> {
  try {
    return await open(endpoint, settings, signal, sock, carrierFailure)
  } catch (error) {
    sock?.destroy()
    throw error
  }
}

/** `connection`, its close also letting go of the jump hops it went through. */
function releasing(connection: SshConnection, release: () => void): SshConnection {
  let released = false
  return {
    sftp: () => connection.sftp(),
    exec: (command, options) => connection.exec(command, options),
    streamToCommand: (command, input) => connection.streamToCommand(command, input),
    openCommandChannel: (command, prefix) => connection.openCommandChannel(command, prefix),
    forward: (host, port) => connection.forward(host, port),
    get failure() {
      return connection.failure
    },
    close: async () => {
      try {
        await connection.close()
      } finally {
        if (!released) {
          released = true
          release()
        }
      }
    }
  }
}
