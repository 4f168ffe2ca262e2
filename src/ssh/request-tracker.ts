// Every request over a connection is tracked until it settles, so that none waits forever:
// ssh2 can leave a request unanswered (ssh2 #947, #421). A watchdog fails them all when nothing
// has arrived from the server for a request's allowance while it waits. The first failure wins:
// every waiting request, and every one asked afterwards, rejects with it.

import { classifySftpError } from './classify.js'
import { ConnectionEndedError, DeployError } from '../errors.js'

/** Starts a request: calls `resolve` or `reject` once it is answered. */
export type StartRequest<T> = (
  resolve: (value: T) => void,
  reject: (error: DeployError) => void
) => void

interface PendingRequest {
  readonly label: string
  readonly startedAt: number
  readonly allowanceMs: number
  readonly reject: (error: DeployError) => void
}

const WATCHDOG_TICK_MS = 250

export class RequestTracker {
  readonly #label: string
  readonly #onFailure: (error: DeployError) => void
  readonly #pending = new Set<PendingRequest>()
  readonly #watchdog: NodeJS.Timeout
  #lastActivity = Date.now()
  #failure: DeployError | undefined
  #connected = false

  /**
   * `label` names the connection in messages; `onFailure` is called once, with the first
   * failure, after the requests waiting then have been rejected with it.
   */
  constructor(label: string, onFailure: (error: DeployError) => void, tickMs = WATCHDOG_TICK_MS) {
    this.#label = label
    this.#onFailure = onFailure
    this.#watchdog = setInterval(() => this.#checkStalls(), tickMs)
    this.#watchdog.unref()
  }

  /** The first failure, as requests reject with it; undefined while none. */
  get failure(): DeployError | undefined {
    return this.#failure
  }

  /** Something arrived from the server. */
  touch(): void {
    this.#lastActivity = Date.now()
  }

  /** The connection is up: from now on its failure is a ConnectionEndedError. */
  connected(): void {
    this.touch()
    this.#connected = true
  }

  /**
   * Fails the connection, unless it has failed already. Before it is up the error is kept as it
   * is (a HostKeyError, an authentication failure); after, it is wrapped in a
   * ConnectionEndedError.
   */
  fail(error: DeployError): void {
    if (this.#failure !== undefined) return
    const ended = this.#connected ? new ConnectionEndedError(error) : error
    this.#failure = ended
    for (const request of [...this.#pending]) request.reject(ended)
    this.#pending.clear()
    this.#onFailure(ended)
  }

  /**
   * Starts a request named `label` and tracks it until it settles. The watchdog fails the
   * connection when it has waited longer than `allowanceMs` with nothing from the server for as
   * long. A request started after the first failure rejects with it at once.
   */
  track<T>(label: string, allowanceMs: number, start: StartRequest<T>): Promise<T> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure)
    return new Promise<T>((resolve, reject) => {
      const request: PendingRequest = { label, startedAt: Date.now(), allowanceMs, reject }
      this.#pending.add(request)
      const finish = (): boolean => {
        if (!this.#pending.delete(request)) return false
        this.touch()
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
        if (finish()) reject(classifySftpError(error, label, ''))
      }
    })
  }

  /** Stops the watchdog. */
  stop(): void {
    clearInterval(this.#watchdog)
  }

  #checkStalls(): void {
    if (this.#pending.size === 0) return
    const now = Date.now()
    const quiet = now - this.#lastActivity
    for (const request of this.#pending) {
      if (quiet > request.allowanceMs && now - request.startedAt > request.allowanceMs) {
        this.fail(
          new DeployError(
            'timeout',
            `${this.#label}: no data from the server for ${Math.round(quiet / 1000)}s during ${request.label}; the connection is stalled`
          )
        )
        return
      }
    }
  }
}
