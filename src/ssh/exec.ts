// Commands run to completion: `exec` (stdin closed at once) and `streamToCommand` (stdin fed
// from an iterable). What a command sends is held within bounds, whatever it sends: its output
// is kept up to MAX_KEPT_OUTPUT per stream (the rest is read and dropped), and the command is
// ended once stdout and stderr together pass MAX_COMMAND_OUTPUT.

import { DeployError } from '../errors.js'
import { inputError, pipeInto, type ExecContext } from './exec-channel.js'
import type { ClientChannel } from './ssh2.js'
import type { ExecOptions, ExecResult } from './types.js'

const MAX_KEPT_OUTPUT = 64 * 1024
// With `keep: 'tail'`, the first bytes kept of each stream besides its tail.
const HEAD_BYTES = 256
// Our own commands answer in far less: more is not theirs. A user's script (`keep: 'tail'`)
// may print any amount; only its tail is kept.
const MAX_COMMAND_OUTPUT = 16 * 1024 * 1024

/**
 * Runs `command` with stdin closed; resolves with its exit status and output. With `timeoutMs`,
 * a command still running then is given up: the result says `timedOut` (stopping what runs on
 * the host is the caller's: see deploy/rollout/scripts.ts).
 */
export function exec(
  context: ExecContext,
  command: string,
  options: ExecOptions = {}
): Promise<ExecResult> {
  const { timeoutMs } = options
  const allowanceMs =
    options.allowanceMs ?? (timeoutMs === undefined ? context.idleTimeoutMs : timeoutMs + 5000)
  return context.requests.track<ExecResult>('a remote command', allowanceMs, (resolve, reject) => {
    context.openExec(command, reject, (stream) => {
      const output = new OutputCollector(stream, context, reject, options.keep)
      if (options.onStderr !== undefined) stream.stderr.on('data', options.onStderr)
      // At the timeout the command is given up: its channel closed, the result as it stands
      // (sshd keeps a channel open while anything the command started holds its output).
      const giveUp = (why: 'timedOut' | 'aborted'): void => {
        resolve({ ...output.result(), [why]: true })
        stream.close()
      }
      const timer =
        timeoutMs === undefined ? undefined : setTimeout(() => giveUp('timedOut'), timeoutMs)
      const stop = (): void => giveUp('aborted')
      options.signal?.addEventListener('abort', stop, { once: true })
      if (options.signal?.aborted === true) stop()
      stream.on('error', (streamError: Error) =>
        reject(
          new DeployError(
            'connection-lost',
            `${context.label}: command channel error: ${streamError.message}`
          )
        )
      )
      stream.on('close', () => {
        clearTimeout(timer)
        options.signal?.removeEventListener('abort', stop)
        resolve(output.result())
      })
      stream.end()
    })
  })
}

/** Runs `command` with `input` streamed to its stdin; resolves with its exit status and output. */
export function streamToCommand(
  context: ExecContext,
  command: string,
  input: AsyncIterable<Buffer>
): Promise<ExecResult> {
  const { requests } = context
  const label = 'sending a stream to a remote command'
  return requests.track<ExecResult>(label, context.idleTimeoutMs, (resolve, reject) => {
    context.openExec(command, reject, (stream) => {
      let closed = false
      const output = new OutputCollector(stream, context, reject)
      stream.on('error', () => undefined)
      stream.on('close', () => {
        closed = true
        resolve(output.result())
      })
      pipeInto(stream, input, () => closed, requests).catch((error: unknown) => {
        // The input failed (a local file could not be read): stop the command.
        stream.close()
        reject(inputError(error))
      })
    })
  })
}

type OutputStream = 'stdout' | 'stderr'

/**
 * A command's stdout and stderr, each kept up to MAX_KEPT_OUTPUT, and its exit status. Past
 * MAX_COMMAND_OUTPUT of the two together (a command that will not stop talking) the request
 * is rejected and the channel closed.
 */
class OutputCollector {
  readonly #kept = { stdout: [] as Buffer[], stderr: [] as Buffer[] }
  readonly #sizes = { stdout: 0, stderr: 0 }
  /** With `keep: 'tail'`: each stream's first bytes, kept apart from its tail. */
  readonly #heads = { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) }
  readonly #dropped = { stdout: false, stderr: false }
  readonly #stream: ClientChannel
  readonly #context: ExecContext
  readonly #reject: (error: DeployError) => void
  readonly #keep: 'head' | 'tail'
  #total = 0
  #code: number | null = null
  #signal: string | undefined

  constructor(
    stream: ClientChannel,
    context: ExecContext,
    reject: (error: DeployError) => void,
    keep: 'head' | 'tail' = 'head'
  ) {
    this.#stream = stream
    this.#context = context
    this.#reject = reject
    this.#keep = keep
    stream.on('data', (chunk: Buffer) => this.#collect('stdout', chunk))
    stream.stderr.on('data', (chunk: Buffer) => this.#collect('stderr', chunk))
    stream.stderr.on('error', () => undefined)
    stream.on('exit', (exitCode: number | null, signalName?: string) => {
      this.#code = exitCode
      this.#signal = signalName
    })
  }

  result(): ExecResult {
    return {
      code: this.#code,
      signal: this.#signal,
      stdout: this.#text('stdout'),
      stderr: this.#text('stderr')
    }
  }

  #text(from: OutputStream): string {
    const kept = Buffer.concat(this.#kept[from]).toString('utf8')
    if (!this.#dropped[from]) return kept
    // The tail may start mid-line: that line goes.
    return `${this.#heads[from].toString('utf8')}\n…\n${kept.slice(kept.indexOf('\n') + 1)}`
  }

  #collect(into: OutputStream, chunk: Buffer): void {
    this.#context.requests.touch()
    this.#total += chunk.length
    if (this.#keep === 'tail') this.#keepTail(into, chunk)
    else {
      const room = MAX_KEPT_OUTPUT - this.#sizes[into]
      if (room > 0) {
        const part = chunk.length <= room ? chunk : chunk.subarray(0, room)
        this.#kept[into].push(part)
        this.#sizes[into] += part.length
      }
    }
    if (this.#keep !== 'tail' && this.#total > MAX_COMMAND_OUTPUT) {
      this.#total = -Infinity
      this.#reject(floodError(this.#context.label))
      this.#stream.close()
    }
  }

  /** The last MAX_KEPT_OUTPUT bytes, and the first HEAD_BYTES apart. */
  #keepTail(into: OutputStream, chunk: Buffer): void {
    if (this.#heads[into].length < HEAD_BYTES && !this.#dropped[into])
      this.#heads[into] = Buffer.concat([this.#heads[into], chunk]).subarray(0, HEAD_BYTES)
    this.#kept[into].push(Buffer.from(chunk))
    this.#sizes[into] += chunk.length
    while (this.#sizes[into] > MAX_KEPT_OUTPUT && this.#kept[into].length > 1) {
      const first = this.#kept[into].shift() as Buffer
      this.#sizes[into] -= first.length
      this.#dropped[into] = true
    }
  }
}

function floodError(label: string): DeployError {
  return new DeployError(
    'protocol',
    `${label}: a remote command sent more than ${MAX_COMMAND_OUTPUT / 1024 / 1024} MiB of output: it is not ours (does the account force a command?)`
  )
}
