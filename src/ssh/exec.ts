// Commands run to completion: `exec` (stdin closed at once) and `streamToCommand` (stdin fed
// from an iterable). What a command sends is held within bounds, whatever it sends: its output
// is kept up to MAX_KEPT_OUTPUT per stream (the rest is read and dropped), and the command is
// ended once stdout and stderr together pass MAX_COMMAND_OUTPUT.

import { DeployError } from '../errors.js'
import { inputError, pipeInto, type ExecContext } from './exec-channel.js'
import type { ClientChannel } from './ssh2.js'
import type { ExecOptions, ExecResult } from './types.js'

const MAX_KEPT_OUTPUT = 64 * 1024
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
      const output = new OutputCollector(stream, context, reject)
      // At the timeout the command is given up: its channel closed, the result as it stands
      // (sshd keeps a channel open while anything the command started holds its output).
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              resolve({ ...output.result(), timedOut: true })
              stream.close()
            }, timeoutMs)
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
  readonly #stream: ClientChannel
  readonly #context: ExecContext
  readonly #reject: (error: DeployError) => void
  #total = 0
  #code: number | null = null
  #signal: string | undefined

  constructor(stream: ClientChannel, context: ExecContext, reject: (error: DeployError) => void) {
    this.#stream = stream
    this.#context = context
    this.#reject = reject
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
      stdout: Buffer.concat(this.#kept.stdout).toString('utf8'),
      stderr: Buffer.concat(this.#kept.stderr).toString('utf8')
    }
  }

  #collect(into: OutputStream, chunk: Buffer): void {
    this.#context.requests.touch()
    this.#total += chunk.length
    const room = MAX_KEPT_OUTPUT - this.#sizes[into]
    if (room > 0) {
      const part = chunk.length <= room ? chunk : chunk.subarray(0, room)
      this.#kept[into].push(part)
      this.#sizes[into] += part.length
    }
    if (this.#total > MAX_COMMAND_OUTPUT) {
      this.#total = -Infinity
      this.#reject(floodError(this.#context.label))
      this.#stream.close()
    }
  }
}

function floodError(label: string): DeployError {
  return new DeployError(
    'protocol',
    `${label}: a remote command sent more than ${MAX_COMMAND_OUTPUT / 1024 / 1024} MiB of output: it is not ours (does the account force a command?)`
  )
}
