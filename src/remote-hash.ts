// SHA-256 of files on the server. OpenSSH's sftp-server has no checksum extension, so the hash
// comes from a remote command: `sha256sum`, `shasum -a 256` or `openssl dgst -sha256`, the first
// the host has. A few long-lived `sh -s` processes per connection (each one exec channel, so the
// connection stays within MaxSessions) take batches of files on stdin and answer one line per
// file; the session start-up is paid once, not once per file. Where the host refuses commands or
// has no hasher, files are read back over SFTP and hashed here.

import { createHash } from 'node:crypto'
import { DeployError } from './errors.js'
import type { CommandChannel, SftpSession, SshConnection } from './ssh.js'
import { shellQuote } from './shell-quote.js'

/** Every line of ours starts with this, so login banners and other noise are ignored. */
export const LINE_PREFIX = 'sfd-'

/** Picks the hasher once per shell; answers `sfd-ready`, or `sfd-none` when there is none. */
export const HASHER_PRELUDE = [
  'if command -v sha256sum >/dev/null 2>&1; then h() { sha256sum; }; echo sfd-ready',
  'elif command -v shasum >/dev/null 2>&1; then h() { shasum -a 256; }; echo sfd-ready',
  'elif command -v openssl >/dev/null 2>&1; then h() { openssl dgst -sha256; }; echo sfd-ready',
  'else echo sfd-none; fi',
  ''
].join('\n')

/** One batch: a line per path, in order; every path single-quoted by shellQuote. */
export function hashBatchScript(paths: readonly string[]): string {
  return [
    `for f in ${paths.map(shellQuote).join(' ')}; do`,
    'if r=$(h < "$f" 2>/dev/null); then printf \'sfd-ok %s\\n\' "$r"; else echo \'sfd-err\'; fi',
    'done',
    ''
  ].join('\n')
}

/**
 * What the server says of one file: its digest; 'unreadable' (the file could not be read
 * there); 'unavailable' (this host cannot hash remotely at all).
 */
export type RemoteDigest = { readonly sha256: string } | 'unreadable' | 'unavailable'

/** Reads a batch's answer lines: one per path, in order. */
export function parseHashLines(lines: readonly string[]): RemoteDigest[] {
  return lines.map((line): RemoteDigest => {
    const sha256 = line.startsWith('sfd-ok ')
      ? /\b([0-9a-f]{64})\b/.exec(line.slice(7))?.[1]
      : undefined
    return sha256 === undefined ? 'unreadable' : { sha256 }
  })
}

// Commands stay far below any server's limit (OpenSSH takes 256 KiB packets).
const MAX_BATCH_PATHS = 200
const MAX_BATCH_CHARS = 48 * 1024
// A remote hasher reads at least this fast; a batch gets this long per byte before the
// watchdog calls it stalled.
const MIN_HASH_BYTES_PER_MS = 20 * 1024
// A shell that has not said it is ready by then is not a shell (a forced sftp-server, say).
const READY_TIMEOUT_MS = 10_000

interface Request {
  readonly path: string
  readonly size: number
  readonly resolve: (digest: RemoteDigest) => void
  readonly reject: (error: unknown) => void
}

export interface RemoteHasher {
  /** The file's SHA-256 as the server computes it. */
  hash(path: string, size: number): Promise<RemoteDigest>
  /** Starts a hashing shell now, so its start-up overlaps the uploads. */
  warmUp(): void
  /** Ends the hashing shells. */
  close(): void
}

type Shell = { readonly channel: CommandChannel; busy: boolean }

async function startShell(
  connection: SshConnection,
  idleTimeoutMs: number
): Promise<CommandChannel | undefined> {
  let channel: CommandChannel
  try {
    channel = await connection.openCommandChannel('sh -s', LINE_PREFIX)
  } catch (error) {
    if (connection.failure !== undefined) throw error
    return undefined // exec refused
  }
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), Math.min(READY_TIMEOUT_MS, idleTimeoutMs))
  })
  try {
    const answer = await Promise.race([channel.request(HASHER_PRELUDE, 1, idleTimeoutMs), timedOut])
    if (answer !== 'timeout' && answer[0] === 'sfd-ready') return channel
  } catch (error) {
    if (connection.failure !== undefined) throw error
  } finally {
    clearTimeout(timer)
  }
  channel.close()
  return undefined
}

export function createRemoteHasher(
  connection: SshConnection,
  channels: number,
  idleTimeoutMs: number
): RemoteHasher {
  const queue: Request[] = []
  const shells: Shell[] = []
  let starting = 0
  let unavailable = false
  let closed = false

  const giveUp = (): void => {
    unavailable = true
    for (const request of queue.splice(0)) request.resolve('unavailable')
  }

  const takeBatch = (): Request[] => {
    const batch: Request[] = []
    let chars = 0
    for (
      let next = queue[0];
      next !== undefined && batch.length < MAX_BATCH_PATHS;
      next = queue[0]
    ) {
      const cost = next.path.length + 8
      if (batch.length > 0 && chars + cost > MAX_BATCH_CHARS) break
      batch.push(next)
      chars += cost
      queue.shift()
    }
    return batch
  }

  const run = (shell: Shell, batch: Request[]): void => {
    shell.busy = true
    const bytes = batch.reduce((sum, request) => sum + request.size, 0)
    shell.channel
      .request(
        hashBatchScript(batch.map((request) => request.path)),
        batch.length,
        idleTimeoutMs + bytes / MIN_HASH_BYTES_PER_MS
      )
      .then(
        (lines) => {
          const answers = parseHashLines(lines)
          batch.forEach((request, index) => request.resolve(answers[index] ?? 'unreadable'))
        },
        (error: unknown) => {
          for (const request of batch) request.reject(error)
        }
      )
      .finally(() => {
        shell.busy = false
        pump()
      })
  }

  const grow = (): void => {
    starting += 1
    startShell(connection, idleTimeoutMs)
      .then(
        (channel) => {
          if (channel === undefined) {
            if (shells.length === 0) giveUp()
            return
          }
          if (closed) {
            channel.close()
            return
          }
          shells.push({ channel, busy: false })
        },
        (error: unknown) => {
          for (const request of queue.splice(0)) request.reject(error)
        }
      )
      .finally(() => {
        starting -= 1
        pump()
      })
  }

  function pump(): void {
    if (unavailable) {
      giveUp()
      return
    }
    for (const shell of shells) {
      if (queue.length === 0) return
      if (!shell.busy) run(shell, takeBatch())
    }
    if (queue.length > 0 && starting === 0 && shells.length + starting < channels) grow()
  }

  return {
    hash(path, size) {
      if (unavailable) return Promise.resolve('unavailable')
      if (closed)
        return Promise.reject(new DeployError('remote-failure', 'the remote hasher is closed'))
      return new Promise((resolve, reject) => {
        queue.push({ path, size, resolve, reject })
        pump()
      })
    },
    warmUp() {
      if (shells.length === 0 && starting === 0 && !unavailable) grow()
    },
    close() {
      closed = true
      for (const shell of shells) shell.channel.close()
    }
  }
}

/** Reads a remote file back over SFTP and hashes it here. */
export async function readBackHash(sftp: SftpSession, path: string): Promise<string> {
  const hash = createHash('sha256')
  const handle = await sftp.open(path, 'r')
  try {
    const chunk = Math.min(sftp.maxReadLength, 256 * 1024)
    const inFlight = 8
    let position = 0
    for (;;) {
      // Issue several reads ahead; they complete in order on one SFTP channel.
      const reads: Promise<Buffer>[] = []
      for (let i = 0; i < inFlight; i += 1) {
        const buffer = Buffer.allocUnsafe(chunk)
        const at = position + i * chunk
        reads.push(sftp.read(handle, buffer, chunk, at).then((n) => buffer.subarray(0, n)))
      }
      const parts = await Promise.all(reads)
      let ended = false
      for (const part of parts) {
        hash.update(part)
        position += part.length
        // End of file reads as 0 bytes; a short read is legal too, and the reads issued past
        // it are dropped and issued again from where it stopped.
        if (part.length === 0) ended = true
        if (part.length < chunk) break
      }
      if (ended) break
    }
  } finally {
    await sftp.close(handle).catch(() => undefined)
  }
  return hash.digest('hex')
}
