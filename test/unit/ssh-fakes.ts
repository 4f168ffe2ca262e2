// Fakes for the ssh/ unit tests: an exec channel that records what is written to it and emits
// what a test makes the "server" send, and the context exec.ts and line-channel.ts run in.

import { EventEmitter } from 'node:events'
import type { ExecContext } from '../../src/ssh/exec-channel.js'
import { RequestTracker } from '../../src/ssh/request-tracker.js'
import type { ClientChannel } from '../../src/ssh/ssh2.js'

export class FakeChannel extends EventEmitter {
  readonly stderr = new EventEmitter()
  readonly written: string[] = []
  ended = false
  closed = false
  /** What write() answers: false for a full window. */
  windowOpen = true

  write(data: string | Buffer): boolean {
    this.written.push(data.toString())
    return this.windowOpen
  }

  end(): void {
    this.ended = true
  }

  /** As ssh2's: the channel closes once the server has answered, not at once. */
  close(): void {
    if (this.closed) return
    this.closed = true
    setImmediate(() => this.emit('close'))
  }

  /** The command prints `text` on stdout. */
  print(text: string | Buffer): void {
    this.emit('data', Buffer.from(text))
  }

  asClientChannel(): ClientChannel {
    return this as unknown as ClientChannel
  }
}

export interface FakeConnection {
  readonly context: ExecContext
  readonly channel: FakeChannel
  readonly commands: string[]
  flushes: number
}

/** A connection whose every exec channel is `channel`; stop its tracker after the test. */
export function fakeConnection(trackers: RequestTracker[]): FakeConnection {
  const channel = new FakeChannel()
  const requests = new RequestTracker('deploy@web:22', () => undefined)
  trackers.push(requests)
  const fake: FakeConnection = {
    channel,
    commands: [],
    flushes: 0,
    context: {
      label: 'deploy@web:22',
      idleTimeoutMs: 60_000,
      requests,
      flushWrites: () => {
        fake.flushes += 1
      },
      openExec: (command, _reject, use) => {
        fake.commands.push(command)
        use(channel.asClientChannel())
      }
    }
  }
  return fake
}

/** An input stream of `chunks`, then `error` if given. */
export async function* chunksThen(chunks: string[], error?: Error): AsyncIterable<Buffer> {
  for (const chunk of chunks) {
    await Promise.resolve()
    yield Buffer.from(chunk)
  }
  if (error !== undefined) throw error
}
