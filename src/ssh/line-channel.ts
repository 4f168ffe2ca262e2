// A long-running remote command that answers requests in lines (see CommandChannel). What it
// sends is held within bounds: a line is at most MAX_LINE characters long, and an answer at most
// its request's bound. Output past them is not ours, and ends the channel as a protocol error.

import { StringDecoder } from 'node:string_decoder'
import { DeployError } from '../errors.js'
import { inputError, pipeInto, type ExecContext } from './exec-channel.js'
import type { ClientChannel } from './ssh2.js'
import type { CommandChannel } from './types.js'

const MAX_LINE = 64 * 1024
const DEFAULT_MAX_ANSWER = 1024 * 1024

/** Starts `command` on an exec channel; its output lines that start with `prefix` answer requests. */
export function openCommandChannel(
  context: ExecContext,
  command: string,
  prefix: string
): Promise<CommandChannel> {
  return context.requests.track<CommandChannel>(
    'starting a remote command',
    context.idleTimeoutMs,
    (resolve, reject) => {
      context.openExec(command, reject, (stream) =>
        resolve(new LineChannel(stream, prefix, context))
      )
    }
  )
}

/** A request waiting for its answer: the lines up to `terminator`. */
interface Waiter {
  readonly terminator: string
  readonly maxAnswerChars: number
  readonly resolve: (lines: string[]) => void
  readonly reject: (error: DeployError) => void
}

/** Requests are answered in order: the lines before a terminator answer the oldest waiter. */
export class LineChannel implements CommandChannel {
  readonly #stream: ClientChannel
  readonly #prefix: string
  readonly #context: ExecContext
  readonly #waiters: Waiter[] = []
  readonly #decoder = new StringDecoder('utf8')
  #lines: string[] = []
  #answerChars = 0
  #partial = ''
  #ended = false

  constructor(stream: ClientChannel, prefix: string, context: ExecContext) {
    this.#stream = stream
    this.#prefix = prefix
    this.#context = context
    stream.on('data', (chunk: Buffer) => this.#receive(chunk))
    stream.stderr.on('data', () => context.requests.touch())
    stream.on('error', () => this.#end('the remote command channel failed'))
    stream.stderr.on('error', () => undefined)
    stream.on('close', () => this.#end('the remote command ended'))
  }

  readonly request = (
    input: string,
    terminator: string,
    allowanceMs: number,
    maxAnswerChars = DEFAULT_MAX_ANSWER
  ): Promise<string[]> => {
    const { requests, label } = this.#context
    if (this.#ended)
      return Promise.reject(
        requests.failure ?? new DeployError('remote-failure', `${label}: the remote command ended`)
      )
    return requests.track<string[]>('a remote command', allowanceMs, (resolve, reject) => {
      this.#waiters.push({ terminator, maxAnswerChars, resolve, reject })
      if (input === '') return
      this.#stream.write(input)
      // A request is waited for: it goes now, not after whatever else this tick does.
      this.#context.flushWrites()
    })
  }

  readonly write = (input: string): void => {
    if (!this.#ended) this.#stream.write(input)
  }

  readonly send = (input: AsyncIterable<Buffer>): Promise<void> => {
    const { requests } = this.#context
    const label = 'sending a stream to a remote command'
    return requests.track<undefined>(label, this.#context.idleTimeoutMs, (resolve, reject) => {
      pipeInto(this.#stream, input, () => this.#ended, requests).then(
        () => resolve(undefined),
        (error: unknown) => {
          this.#end('the stream to the remote command failed')
          this.#stream.close()
          reject(requests.failure ?? inputError(error))
        }
      )
    })
  }

  readonly close = (): void => {
    this.#end('the remote command was closed')
    this.#stream.end()
    this.#stream.close()
  }

  #receive(chunk: Buffer): void {
    this.#context.requests.touch()
    if (this.#ended) return
    const parts = (this.#partial + this.#decoder.write(chunk)).split('\n')
    this.#partial = parts.pop() ?? ''
    if (this.#partial.length > MAX_LINE) {
      this.#overflow(`a line longer than ${MAX_LINE / 1024} KiB`)
      return
    }
    for (const line of parts) {
      if (line.startsWith(this.#prefix) && !this.#take(line)) return
    }
  }

  /** Adds a line to the oldest waiter's answer, or ends it; false when the channel overflowed. */
  #take(line: string): boolean {
    const head = this.#waiters[0]
    if (head !== undefined && line === head.terminator) {
      this.#waiters.shift()
      head.resolve(this.#lines)
      this.#lines = []
      this.#answerChars = 0
      return true
    }
    this.#answerChars += line.length
    if (this.#answerChars > (head?.maxAnswerChars ?? DEFAULT_MAX_ANSWER)) {
      this.#overflow('more output than the request it answers can have')
      return false
    }
    this.#lines.push(line)
    return true
  }

  /** Output past the bounds is not ours: the channel ends as a protocol error. */
  #overflow(what: string): void {
    this.#end(
      new DeployError(
        'protocol',
        `${this.#context.label}: a remote command sent ${what}: its output is not ours (does the account force a command?)`
      )
    )
    this.#lines = []
    this.#partial = ''
    this.#stream.close()
  }

  /** Rejects every waiting request: with the connection's failure, or else with `reason`. */
  #end(reason: string | DeployError): void {
    if (this.#ended) return
    this.#ended = true
    const error =
      this.#context.requests.failure ??
      (reason instanceof DeployError
        ? reason
        : new DeployError('remote-failure', `${this.#context.label}: ${reason}`))
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error)
  }
}
