// A few long-lived hashing shells per connection (each one exec channel, so the connection stays
// within MaxSessions) take batches of files on stdin; the session start-up is paid once per
// connection, and openssl hashes a whole batch in one process. Where the host refuses commands
// or has no hasher, every request is answered 'unavailable' and files are read back instead.

import { DeployError, isConnectionEnded } from '../errors.js'
import type { SshConnection } from '../ssh/types.js'
import { startShell, type StartedShell, type TakenShell } from './hashing-shell.js'
import { END_LINE, hashAllowanceMs, hashBatchScript, parseHashAnswer } from './shell-protocol.js'
import type { RemoteDigest } from './shell-protocol.js'

export type { TakenShell } from './hashing-shell.js'

// A batch is a script fed to the shell's stdin, so no command-line limit applies; batches stay
// moderate so that the work spreads over the shells.
const MAX_BATCH_PATHS = 1000
const MAX_BATCH_CHARS = 256 * 1024
// A shell gets its next batch before it has answered the last, so it never waits for a round
// trip between batches.
const BATCHES_PER_SHELL = 2

/** A backlog of queued files: by their bytes, or by their count. */
export interface Backlog {
  readonly bytes: number
  readonly files: number
}

/**
 * A second shell is a second login (the server's CPU, shared with everything else): it starts
 * only for a backlog that one shell would take longer than a login to hash.
 */
export const GROW_BACKLOG: Backlog = { bytes: 256 * 1024 * 1024, files: 20_000 }

export interface RemoteHasher {
  /** The file's SHA-256 as the server computes it. */
  hash(path: string, size: number): Promise<RemoteDigest>
  /**
   * As hash, the answer given to `done` instead of a promise ('unavailable' where hash would
   * reject): for thousands of files at once.
   */
  hashInto(path: string, size: number, done: (digest: RemoteDigest) => void): void
  /**
   * Starts one hashing shell now, so that its start-up overlaps other work; a second starts
   * only for a backlog past GROW_BACKLOG. Resolves once the shell has answered (or failed).
   * A hasher created held starts no shell before this.
   */
  warmUp(): Promise<void>
  /** The host has been found unable to run our shell (no exec, no session left, no hasher). */
  readonly unavailable: boolean
  /**
   * What a hashing shell said of the host's machine: its boot id (/proc/sys/kernel/random/boot_id,
   * undefined where it has none) and its working directory, where relative paths start;
   * undefined until a shell has started.
   */
  readonly machine: HostMachine | undefined
  /**
   * Takes a hashing shell out of the hasher for another use (a tar stream, which then needs no
   * login of its own): the first shell to be idle, once one is. Undefined when none is up or
   * starting. Requests queued meanwhile go to the other shells, or to a new one.
   */
  takeShell(): Promise<TakenShell | undefined>
  /** Puts a taken shell, idle, back in service. */
  giveBack(shell: TakenShell): void
  /**
   * Ends the hashing shells and answers every request 'unavailable' from now on: their sessions
   * are needed for something else (a server that allows one session at a time).
   */
  release(): void
  /** Requests not yet handed to a shell are answered 'unavailable' instead. */
  dropQueued(): void
  /** Ends the hashing shells. */
  close(): void
}

export interface HostMachine {
  readonly bootId: string | undefined
  readonly cwd: string | undefined
}

interface Request {
  readonly path: string
  readonly size: number
  readonly resolve: (digest: RemoteDigest) => void
  /** Where missing, a failure is answered 'unavailable'. */
  readonly reject?: (error: unknown) => void
}

/** A request's failure: its promise rejected, or 'unavailable' for hashInto's callback. */
function fail(request: Request, error: unknown): void {
  if (request.reject === undefined) request.resolve('unavailable')
  else request.reject(error)
}

/** A shell in service: its batches sent and not yet answered, and their bytes. */
interface Shell extends TakenShell {
  batches: number
  bytes: number
}

/** The requests not yet handed to a shell, in order, and their bytes. */
class RequestQueue {
  private readonly requests: Request[] = []
  private queuedBytes = 0

  get length(): number {
    return this.requests.length
  }

  get bytes(): number {
    return this.queuedBytes
  }

  push(request: Request): void {
    this.requests.push(request)
    this.queuedBytes += request.size
  }

  /** The next batch: at most MAX_BATCH_PATHS paths and about MAX_BATCH_CHARS of them. */
  takeBatch(): Request[] {
    let count = 0
    let chars = 0
    for (const next of this.requests) {
      const cost = next.path.length + 8
      if (count === MAX_BATCH_PATHS || (count > 0 && chars + cost > MAX_BATCH_CHARS)) break
      chars += cost
      count += 1
    }
    const batch = this.requests.splice(0, count)
    for (const request of batch) this.queuedBytes -= request.size
    return batch
  }

  takeAll(): Request[] {
    this.queuedBytes = 0
    return this.requests.splice(0)
  }
}

class HasherPool implements RemoteHasher {
  private readonly queue = new RequestQueue()
  private readonly shells: Shell[] = []
  private starting = 0
  private closed = false
  private isUnavailable = false
  private hostMachine: HostMachine | undefined
  /** Waiting in takeShell for an idle shell. */
  private taker: ((shell: TakenShell | undefined) => void) | undefined
  private firstReady: () => void = () => undefined

  constructor(
    private readonly connection: SshConnection,
    private readonly channels: number,
    private readonly idleTimeoutMs: number,
    private readonly growAt: Backlog,
    private held: boolean
  ) {}

  get unavailable(): boolean {
    return this.isUnavailable
  }

  get machine(): HostMachine | undefined {
    return this.hostMachine
  }

  hash(path: string, size: number): Promise<RemoteDigest> {
    if (this.isUnavailable) return Promise.resolve('unavailable')
    if (this.closed)
      return Promise.reject(new DeployError('remote-failure', 'the remote hasher is closed'))
    return new Promise((resolve, reject) => this.enqueue({ path, size, resolve, reject }))
  }

  hashInto(path: string, size: number, done: (digest: RemoteDigest) => void): void {
    if (this.isUnavailable || this.closed) done('unavailable')
    else this.enqueue({ path, size, resolve: done })
  }

  warmUp(): Promise<void> {
    this.held = false
    if (this.shells.length + this.starting !== 0 || this.isUnavailable || this.closed)
      return Promise.resolve()
    const started = new Promise<void>((resolve) => {
      this.firstReady = resolve
    })
    this.grow()
    return started
  }

  takeShell(): Promise<TakenShell | undefined> {
    if (this.closed || this.isUnavailable || this.taker !== undefined)
      return Promise.resolve(undefined)
    return new Promise<TakenShell | undefined>((resolve) => {
      this.taker = resolve
      this.pump()
    })
  }

  giveBack(shell: TakenShell): void {
    if (this.closed || this.isUnavailable) {
      shell.channel.close()
      return
    }
    this.shells.unshift({ channel: shell.channel, hasher: shell.hasher, batches: 0, bytes: 0 })
    this.pump()
  }

  release(): void {
    this.isUnavailable = true
    for (const shell of this.shells.splice(0)) shell.channel.close()
    this.pump()
  }

  dropQueued(): void {
    for (const request of this.queue.takeAll()) request.resolve('unavailable')
  }

  close(): void {
    this.closed = true
    this.handOver(undefined)
    for (const shell of this.shells) shell.channel.close()
  }

  private enqueue(request: Request): void {
    this.queue.push(request)
    // Files asked for in the same turn of the event loop go out together, in full batches; a
    // full batch goes at once, so a shell starts on it while the rest are still asked for.
    if (this.queue.length === 1) queueMicrotask(() => this.pump())
    else if (this.queue.length >= MAX_BATCH_PATHS) this.pump()
  }

  /** Hands work and shells out: whatever can move now, moves. */
  private pump(): void {
    if (this.isUnavailable) {
      this.dropQueued()
      this.handOver(undefined)
      return
    }
    if (this.taker !== undefined) this.handOverIdleShell()
    // While a shell is wanted, none gets more work, so that one falls idle.
    if (this.taker === undefined) this.feedShells()
    if (this.worthAnotherShell()) this.grow()
  }

  private handOverIdleShell(): void {
    const idle = this.shells.findIndex((shell) => shell.batches === 0)
    if (idle >= 0) this.handOver(this.shells.splice(idle, 1)[0])
    else if (this.shells.length + this.starting === 0) this.handOver(undefined)
  }

  private handOver(shell: TakenShell | undefined): void {
    const waiting = this.taker
    this.taker = undefined
    waiting?.(shell)
  }

  private feedShells(): void {
    for (const shell of this.shells)
      while (this.queue.length > 0 && shell.batches < BATCHES_PER_SHELL)
        this.runBatch(shell, this.queue.takeBatch())
  }

  private worthAnotherShell(): boolean {
    if (this.queue.length === 0 || this.starting !== 0 || this.held) return false
    if (this.shells.length >= this.channels) return false
    return (
      this.shells.length === 0 ||
      this.queue.length > this.growAt.files ||
      this.queue.bytes > this.growAt.bytes
    )
  }

  private runBatch(shell: Shell, batch: Request[]): void {
    const bytes = batch.reduce((sum, request) => sum + request.size, 0)
    shell.batches += 1
    shell.bytes += bytes
    const paths = batch.map((request) => request.path)
    // The batch waits for those sent before it on the same shell: its allowance covers them.
    shell.channel
      .request(
        hashBatchScript(shell.hasher, paths),
        END_LINE,
        hashAllowanceMs(this.idleTimeoutMs, shell.bytes)
      )
      .then(
        (lines) => {
          const answers = parseHashAnswer(shell.hasher, paths, lines)
          batch.forEach((request, index) => request.resolve(answers[index] ?? 'unreadable'))
        },
        (error: unknown) => {
          if (isConnectionEnded(error)) {
            for (const request of batch) fail(request, error)
            return
          }
          // The shell ended (killed, or it sent what is not ours): out of service, and its
          // files are verified another way.
          this.retire(shell)
          for (const request of batch) request.resolve('unavailable')
        }
      )
      .finally(() => {
        shell.batches -= 1
        shell.bytes -= bytes
        this.pump()
      })
  }

  /** Takes a shell that has failed out of service. */
  private retire(shell: Shell): void {
    const index = this.shells.indexOf(shell)
    if (index >= 0) this.shells.splice(index, 1)
    shell.channel.close()
  }

  private grow(): void {
    this.starting += 1
    startShell(this.connection, this.idleTimeoutMs)
      .then(
        (started) => this.adopt(started),
        (error: unknown) => {
          for (const request of this.queue.takeAll()) fail(request, error)
        }
      )
      .finally(() => {
        this.starting -= 1
        this.firstReady()
        this.pump()
      })
  }

  /** A shell that has started joins the pool; one refused may leave the host unable to hash. */
  private adopt(started: StartedShell | undefined): void {
    if (started === undefined) {
      // Refused (exec forbidden, no session left, no hasher): the host cannot hash unless
      // another shell is up or still starting.
      if (this.shells.length === 0 && this.starting === 1) this.isUnavailable = true
      return
    }
    if (this.closed) {
      started.channel.close()
      return
    }
    this.hostMachine ??= { bootId: started.bootId, cwd: started.cwd }
    this.shells.push({ channel: started.channel, hasher: started.hasher, batches: 0, bytes: 0 })
  }
}

export function createRemoteHasher(
  connection: SshConnection,
  channels: number,
  idleTimeoutMs: number,
  /** The backlog worth a second shell. */
  growAt: Backlog = GROW_BACKLOG,
  /** No shell starts before warmUp (requests wait in the queue). */
  held = false
): RemoteHasher {
  return new HasherPool(connection, channels, idleTimeoutMs, growAt, held)
}
