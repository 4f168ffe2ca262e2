// SHA-256 of files on the server. OpenSSH's sftp-server has no checksum extension, so the hash
// comes from a remote command (`sha256sum`, `shasum -a 256` or `openssl dgst -sha256`, the first
// the host has), many files per command, over a small pool of exec channels shared by the
// connection. Where the host refuses commands or has no hasher, the file is read back over SFTP
// and hashed here.

import { createHash } from 'node:crypto'
import type { SftpSession, SshConnection } from './ssh.js'
import { shellQuote } from './shell-quote.js'

/** The shell script for a batch: every path is single-quoted by shellQuote. */
export function hashBatchCommand(paths: readonly string[]): string {
  return [
    'if command -v sha256sum >/dev/null 2>&1; then h() { sha256sum; }',
    'elif command -v shasum >/dev/null 2>&1; then h() { shasum -a 256; }',
    'elif command -v openssl >/dev/null 2>&1; then h() { openssl dgst -sha256; }',
    "else echo 'sfd-none'; exit 0; fi",
    `for f in ${paths.map(shellQuote).join(' ')}; do`,
    'if r=$(h < "$f" 2>/dev/null); then printf \'sfd-ok %s\\n\' "$r"; else echo \'sfd-err\'; fi',
    'done'
  ].join('\n')
}

/**
 * What the server says of one file: its digest; 'unreadable' (the file could not be read
 * there); 'unavailable' (this host cannot hash remotely at all).
 */
export type RemoteDigest = { readonly sha256: string } | 'unreadable' | 'unavailable'

export type BatchAnswer = 'unavailable' | RemoteDigest[]

/**
 * Reads a batch's output: one answer per path in order, or 'unavailable' when the host cannot hash (no hasher, commands refused or replaced,
 * as under `ForceCommand internal-sftp`).
 */
export function parseHashBatch(stdout: string, count: number): BatchAnswer {
  const lines = stdout.split('\n').filter((line) => line.startsWith('sfd-'))
  if (lines.length !== count) return 'unavailable'
  return lines.map((line): RemoteDigest => {
    const sha256 = line.startsWith('sfd-ok ')
      ? /\b([0-9a-f]{64})\b/.exec(line.slice(7))?.[1]
      : undefined
    return sha256 === undefined ? 'unreadable' : { sha256 }
  })
}

// Command length stays far below any server's limit (OpenSSH takes 256 KiB packets).
const MAX_BATCH_PATHS = 200
const MAX_BATCH_CHARS = 48 * 1024
// A remote hasher reads at least this fast; a command gets this long per byte before the
// watchdog calls it stalled.
const MIN_HASH_BYTES_PER_MS = 20 * 1024

interface Request {
  readonly path: string
  readonly size: number
  readonly resolve: (digest: RemoteDigest) => void
  readonly reject: (error: unknown) => void
}

export interface RemoteHasher {
  /** The file's SHA-256 as the server computes it. */
  hash(path: string, size: number): Promise<RemoteDigest>
}

export function createRemoteHasher(
  connection: SshConnection,
  channels: number,
  idleTimeoutMs: number
): RemoteHasher {
  const queue: Request[] = []
  let running = 0
  let unavailable = false

  const takeBatch = (): Request[] => {
    const batch: Request[] = []
    let chars = 0
    while (queue.length > 0 && batch.length < MAX_BATCH_PATHS) {
      const next = queue[0]
      if (next === undefined) break
      const cost = next.path.length + 8
      if (batch.length > 0 && chars + cost > MAX_BATCH_CHARS) break
      batch.push(next)
      chars += cost
      queue.shift()
    }
    return batch
  }

  const pump = (): void => {
    while (running < channels && queue.length > 0) {
      if (unavailable) {
        for (const request of queue.splice(0)) request.resolve('unavailable')
        return
      }
      const batch = takeBatch()
      running += 1
      const bytes = batch.reduce((sum, request) => sum + request.size, 0)
      connection
        .exec(hashBatchCommand(batch.map((request) => request.path)), {
          allowanceMs: idleTimeoutMs + bytes / MIN_HASH_BYTES_PER_MS
        })
        .then(
          (result) => {
            const answer = parseHashBatch(result.stdout, batch.length)
            if (answer === 'unavailable') {
              unavailable = true
              for (const request of batch) request.resolve('unavailable')
            } else {
              batch.forEach((request, index) => request.resolve(answer[index] ?? 'unreadable'))
            }
          },
          (error: unknown) => {
            // A refused exec channel means no remote hashing here; a lost connection fails all.
            if (connection.failure === undefined) {
              unavailable = true
              for (const request of batch) request.resolve('unavailable')
            } else {
              for (const request of batch) request.reject(error)
            }
          }
        )
        .finally(() => {
          running -= 1
          pump()
        })
    }
  }

  return {
    hash(path, size) {
      if (unavailable) return Promise.resolve('unavailable')
      return new Promise((resolve, reject) => {
        queue.push({ path, size, resolve, reject })
        pump()
      })
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
