// Local file data for uploads, read once per run however many hosts receive it. Every upload
// asks for a file chunk by chunk; a chunk another host holds, or held recently, is handed out
// again instead of being read anew, so hosts that send the same file side by side share one
// read. All chunks live in a fixed number of buffers, reused for the whole run: memory is
// bounded by the chunks in flight, not by file sizes or the number of hosts, and the sending
// path allocates nothing per chunk (ssh2 sends a chunk without copying it, so a buffer goes back
// to the pool only when the server has acknowledged every write of it). Reads are synchronous:
// from the page cache a 255 KiB read takes tens of microseconds, and through the thread pool
// its bookkeeping cost the main thread several times that (256 MiB: 28 ms against 76-107 ms).

import { closeSync, openSync, readSync } from 'node:fs'
import { localFileError } from '../errors.js'

export interface Chunk {
  /** The bytes read: shorter than asked at the end of the file, empty past it. */
  readonly data: Buffer
  /** Hands the chunk back; `data` must not be used afterwards. */
  release(): void
}

export interface LocalFile {
  /** `length` bytes (at most the reader's chunk size) at `position`. */
  chunk(position: number, length: number): Promise<Chunk>
  close(): void
}

export interface ChunkReader {
  readonly chunkSize: number
  /** Throws a `local-file` DeployError when the file cannot be opened. */
  open(localPath: string): LocalFile
}

interface Entry {
  readonly key: string
  readonly buffer: Buffer
  readonly data: Buffer
  holders: number
}

interface OpenFile {
  readonly fd: number
  users: number
}

export function createChunkReader(options: { chunkSize: number; buffers: number }): ChunkReader {
  const { chunkSize } = options
  const free: Buffer[] = []
  let allocated = 0
  const waiting: ((buffer: Buffer) => void)[] = []
  const entries = new Map<string, Entry>()
  // Chunks nobody holds, oldest first: kept for a host that asks for them next, until their
  // buffer is needed for something else.
  const idle = new Map<string, Entry>()
  const files = new Map<string, OpenFile>()

  const takeBuffer = (): Buffer | Promise<Buffer> => {
    const reused = free.pop()
    if (reused !== undefined) return reused
    if (allocated < options.buffers) {
      allocated += 1
      return Buffer.allocUnsafe(chunkSize)
    }
    const oldest = idle.values().next()
    if (!oldest.done) {
      idle.delete(oldest.value.key)
      entries.delete(oldest.value.key)
      return oldest.value.buffer
    }
    // Every buffer carries a write in flight: the first one acknowledged comes here.
    return new Promise((resolve) => waiting.push(resolve))
  }

  const recycle = (buffer: Buffer): void => {
    const next = waiting.shift()
    if (next !== undefined) next(buffer)
    else free.push(buffer)
  }

  const giveBack = (entry: Entry): void => {
    const next = waiting.shift()
    if (next !== undefined) {
      entries.delete(entry.key)
      next(entry.buffer)
    } else {
      idle.set(entry.key, entry)
    }
  }

  return {
    chunkSize,
    open(localPath) {
      let file = files.get(localPath)
      if (file === undefined) {
        try {
          file = { fd: openSync(localPath, 'r'), users: 0 }
        } catch (error) {
          throw localFileError(localPath, error)
        }
        files.set(localPath, file)
      }
      file.users += 1
      const opened = file
      let closed = false
      return {
        async chunk(position, length) {
          if (length > chunkSize) throw new RangeError(`a chunk holds at most ${chunkSize} bytes`)
          const key = `${position}:${length}:${localPath}`
          let entry = entries.get(key)
          if (entry === undefined) {
            const buffer = await takeBuffer()
            // Another upload may have read the same chunk while this one waited for a buffer.
            entry = entries.get(key)
            if (entry === undefined) {
              let bytesRead: number
              try {
                bytesRead = readSync(opened.fd, buffer, 0, length, position)
              } catch (error) {
                recycle(buffer)
                throw localFileError(localPath, error)
              }
              entry = { key, buffer, data: buffer.subarray(0, bytesRead), holders: 0 }
              entries.set(key, entry)
            } else {
              recycle(buffer)
            }
          }
          idle.delete(key)
          entry.holders += 1
          const held = entry
          let released = false
          return {
            data: held.data,
            release() {
              if (released) return
              released = true
              held.holders -= 1
              if (held.holders === 0 && entries.get(held.key) === held) giveBack(held)
            }
          }
        },
        close() {
          if (closed) return
          closed = true
          opened.users -= 1
          if (opened.users > 0) return
          if (files.get(localPath) === opened) files.delete(localPath)
          closeSync(opened.fd)
        }
      }
    }
  }
}
