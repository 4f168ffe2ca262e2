// Sends one local file to one remote path over SFTP with several writes in flight. The bytes
// come from the run's chunk reader: ssh2 sends them without copying, so each chunk is held
// until the server has acknowledged its write, then handed back for reuse.

import type { ChunkReader, LocalFile } from '../local/chunk-reader.js'
import type { HashSink } from '../local/digests.js'
import type { RemoteHandle, SftpSession } from '../ssh/types.js'

/** OpenSSH's largest write; 262144 makes ssh2 split every request in two. */
export const MAX_CHUNK = 261_120

export interface UploadOptions {
  readonly localPath: string
  readonly remotePath: string
  readonly mode: number
  /**
   * Where to start: 0 writes the file anew; more continues a partial copy of the same file
   * already that long on the server (opened without truncating).
   */
  readonly offset: number
  /** Writes in flight for this file. */
  readonly writesInFlight: number
  /** Local file data for the whole run, shared with every other upload. */
  readonly reader: ChunkReader
  /** Size the file is expected to have. */
  readonly size: number
  /** Receives every byte read when the upload starts at 0, to hash the file on the way. */
  readonly hash: HashSink | undefined
  /** Called with each write's length once the server has acknowledged it. */
  readonly onBytes: (bytes: number) => void
  /** Called as the acknowledged bytes grow: the file's first `bytes` bytes are on the server. */
  readonly onAcknowledged?: (bytes: number) => void
}

/** Resolves with the bytes written (from `offset` to the end of the local file). */
export async function uploadFile(sftp: SftpSession, options: UploadOptions): Promise<number> {
  const state = { hashed: false }
  try {
    return await send(sftp, options, state)
  } finally {
    // Whoever waits for this file's digest must not wait for an upload that stopped early.
    if (!state.hashed) options.hash?.abandon()
  }
}

/**
 * Counts the acknowledged prefix of a file from `offset`: writes are acknowledged in order in
 * practice, and the prefix is counted without assuming it. Returns what takes one write's
 * acknowledgement; `onPrefix` hears the prefix grow.
 */
function prefixCounter(
  offset: number,
  onPrefix: ((bytes: number) => void) | undefined
): (at: number, length: number) => void {
  let acknowledged = offset
  const ahead = new Map<number, number>()
  return (at, length) => {
    ahead.set(at, length)
    for (let next = ahead.get(acknowledged); next !== undefined; next = ahead.get(acknowledged)) {
      ahead.delete(acknowledged)
      acknowledged += next
    }
    onPrefix?.(acknowledged)
  }
}

/** Writes the file from `options.offset` to its end; resolves with the bytes written. */
async function writeAll(
  sftp: SftpSession,
  handle: RemoteHandle,
  local: LocalFile,
  options: UploadOptions,
  state: { hashed: boolean }
): Promise<number> {
  const chunkSize = Math.min(MAX_CHUNK, sftp.maxWriteLength, options.reader.chunkSize)
  const inFlight = new Set<Promise<void>>()
  let failure: { error: unknown } | undefined
  let position = options.offset
  let sent = 0
  const acknowledge = prefixCounter(options.offset, options.onAcknowledged)
  for (;;) {
    while (inFlight.size >= options.writesInFlight && failure === undefined)
      await Promise.race(inFlight)
    if (failure !== undefined) break
    const chunk = await local.chunk(position, chunkSize)
    const length = chunk.data.length
    if (length === 0) {
      chunk.release()
      options.hash?.finish()
      state.hashed = true
      break
    }
    options.hash?.update(chunk.data)
    const at = position
    const write: Promise<void> = sftp.write(handle, chunk.data, length, at).then(
      () => {
        chunk.release()
        inFlight.delete(write)
        sent += length
        options.onBytes(length)
        acknowledge(at, length)
      },
      (error: unknown) => {
        chunk.release()
        inFlight.delete(write)
        failure ??= { error }
      }
    )
    inFlight.add(write)
    position += length
  }
  await Promise.all(inFlight)
  if (failure !== undefined) throw failure.error
  return sent
}

async function send(
  sftp: SftpSession,
  options: UploadOptions,
  state: { hashed: boolean }
): Promise<number> {
  const local = options.reader.open(options.localPath)
  try {
    const handle = await sftp.open(
      options.remotePath,
      options.offset > 0 ? 'r+' : 'w',
      options.mode
    )
    let sent: number
    try {
      sent = await writeAll(sftp, handle, local, options, state)
    } catch (error) {
      await sftp.close(handle).catch(() => undefined)
      throw error
    }
    // The server reports some write errors (a full disk on NFS, say) only when the file closes.
    await sftp.close(handle)
    return sent
  } finally {
    local.close()
  }
}
