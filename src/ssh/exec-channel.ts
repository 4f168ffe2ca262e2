// What exec.ts and line-channel.ts share: the connection as they see it, opening an exec channel
// on it, and feeding a channel's stdin with backpressure.

import { ChannelRefusedError, DeployError, errorMessage } from '../errors.js'
import type { RequestTracker } from './request-tracker.js'
import type { Client, ClientChannel } from './ssh2.js'

/** What running a command needs of its connection. */
export interface ExecContext {
  /** `user@host:port`, for messages. */
  readonly label: string
  readonly idleTimeoutMs: number
  readonly requests: RequestTracker
  /** Sends what the socket holds now instead of at the end of the tick. */
  readonly flushWrites: () => void
  /** Opens an exec channel for `command`; a refusal goes to `reject`. */
  readonly openExec: (
    command: string,
    reject: (error: DeployError) => void,
    use: (stream: ClientChannel) => void
  ) => void
}

/** Opens exec channels on `client`; a refusal (exec forbidden, MaxSessions reached) is a DeployError. */
export function execOpener(client: Client, label: string): ExecContext['openExec'] {
  return (command, reject, use) => {
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
}

/**
 * Writes `input` into a channel's stdin, waiting for 'drain' whenever its window is full, and
 * ends stdin; stops early once `stopped()` (the channel has closed). Each chunk the channel
 * takes is progress: `requests` is touched.
 */
export async function pipeInto(
  stream: ClientChannel,
  input: AsyncIterable<Buffer>,
  stopped: () => boolean,
  requests: RequestTracker
): Promise<void> {
  for await (const chunk of input) {
    if (stopped()) return
    if (!stream.write(chunk)) await drained(stream)
    requests.touch()
  }
  stream.end()
}

/** Resolves when the channel's window has room again, or it has closed. */
function drained(stream: ClientChannel): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      stream.off('drain', done)
      stream.off('close', done)
      resolve()
    }
    stream.on('drain', done)
    stream.on('close', done)
  })
}

/** A stream's input failed: a DeployError as it is, anything else a local file that failed. */
export function inputError(error: unknown): DeployError {
  return error instanceof DeployError
    ? error
    : new DeployError('local-file', errorMessage(error), { cause: error })
}
