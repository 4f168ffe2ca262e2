// One hashing shell: `sh -s` on an exec channel, its prelude run (the fastest hasher the host
// has picked, sfd_prefix defined), ready to take batches of files to hash.

import { isConnectionEnded } from '../errors.js'
import type { CommandChannel, SshConnection } from '../ssh/types.js'
import {
  END_LINE,
  HASHER_PRELUDE,
  LINE_PREFIX,
  parseBootLine,
  parseCwdLine,
  parseHasherLine,
  type Hasher
} from './shell-protocol.js'

// A shell that has not said it is ready by then is not a shell (a forced sftp-server, say).
const READY_TIMEOUT_MS = 10_000

/** A started shell, its prelude run (sfd_prefix defined), handed over by takeShell. */
export interface TakenShell {
  readonly channel: CommandChannel
  readonly hasher: Hasher
}

/** A started shell and what it said of its machine. */
export interface StartedShell extends TakenShell {
  /** The host's boot id (/proc/sys/kernel/random/boot_id), where it has one. */
  readonly bootId: string | undefined
  /** The shell's working directory, where relative paths start. */
  readonly cwd: string | undefined
}

/**
 * Starts a hashing shell. Undefined where the host refuses the channel, or what answers is not a
 * shell with a hasher; throws where the connection has ended.
 */
export async function startShell(
  connection: SshConnection,
  idleTimeoutMs: number
): Promise<StartedShell | undefined> {
  let channel: CommandChannel
  try {
    channel = await connection.openCommandChannel('sh -s', LINE_PREFIX)
  } catch (error) {
    if (isConnectionEnded(error)) throw error
    return undefined // exec refused
  }
  const started = await runPrelude(channel, idleTimeoutMs)
  if (started === undefined) channel.close()
  return started
}

/** The prelude's answer, within READY_TIMEOUT_MS; undefined where there is none. */
async function runPrelude(
  channel: CommandChannel,
  idleTimeoutMs: number
): Promise<StartedShell | undefined> {
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), Math.min(READY_TIMEOUT_MS, idleTimeoutMs))
  })
  try {
    const answer = await Promise.race([
      channel.request(HASHER_PRELUDE, END_LINE, idleTimeoutMs),
      timedOut
    ])
    if (answer === 'timeout') return undefined
    const hasher = parseHasherLine(answer)
    if (hasher === undefined) return undefined
    return { channel, hasher, bootId: parseBootLine(answer), cwd: parseCwdLine(answer) }
  } catch (error) {
    if (isConnectionEnded(error)) throw error
    return undefined
  } finally {
    clearTimeout(timer)
  }
}
