// Local file data for uploads, read once per run however many hosts receive it. Every upload
// asks for a file chunk by chunk; a chunk another host holds, or held recently, is handed out
// again instead of being read anew, so hosts that send the same file side by side share one
// read. All chunks live in a fixed number of buffers, reused for the whole run: memory is
// bounded by the chunks in flight, not by file sizes or the number of hosts, and the sending
// path allocates nothing per chunk (ssh2 sends a chunk without copying it, so a buffer goes back
// to the pool only when the server has acknowledged every write of it). Reads are synchronous:
// from the page cache a chunk's read takes tens of microseconds, less than a trip through the
// thread pool costs the main thread.

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

/**
 * The chunks of the run: a fixed number of buffers, each holding one chunk of one file. A chunk
 * nobody holds stays readable (idle) until its buffer is needed for another.
 */
class ChunkCache {
  private readonly free: Buffer[] = []
  private allocated = 0
  /** Asked for a buffer while every buffer carried a write in flight. */
  private readonly waiting: ((buffer: Buffer) => void)[] = []
  private readonly entries = new Map<string, Entry>()
  /** Chunks nobody holds, oldest first: kept for a host that asks for them next. */
  private readonly idle = new Map<string, Entry>()

  constructor(
    private readonly chunkSize: number,
    private readonly buffers: number
  ) {}

  /** The chunk `key`, read into a buffer by `read` unless it is held or idle already. */
  async take(key: string, read: (buffer: Buffer) => Buffer): Promise<Entry> {
    let entry = this.entries.get(key)
    if (entry === undefined) {
      const buffer = await this.takeBuffer()
      // Another upload may have read the same chunk while this one waited for a buffer.
      entry = this.entries.get(key)
      if (entry === undefined) entry = this.fill(key, buffer, read)
      else this.recycle(buffer)
    }
    this.idle.delete(key)
    entry.holders += 1
    return entry
  }

  /** A holder is done with `entry`: when it was the last, the chunk falls idle. */
  release(entry: Entry): void {
    entry.holders -= 1
    if (entry.holders === 0 && this.entries.get(entry.key) === entry) this.giveBack(entry)
  }

  private fill(key: string, buffer: Buffer, read: (buffer: Buffer) => Buffer): Entry {
    let data: Buffer
    try {
      data = read(buffer)
    } catch (error) {
      this.recycle(buffer)
      throw error
    }
    const entry = { key, buffer, data, holders: 0 }
    this.entries.set(key, entry)
    return entry
  }

  private takeBuffer(): Buffer | Promise<Buffer> {
    const reused = this.free.pop()
    if (reused !== undefined) return reused
    if (this.allocated < this.buffers) {
      this.allocated += 1
      return Buffer.allocUnsafe(this.chunkSize)
    }
    const oldest = this.idle.values().next()
    if (!oldest.done) {
      this.idle.delete(oldest.value.key)
      this.entries.delete(oldest.value.key)
      return oldest.value.buffer
    }
    // Every buffer carries a write in flight: the first one acknowledged comes here.
    return new Promise((resolve) => this.waiting.push(resolve))
  }

  private recycle(buffer: Buffer): void {
    const next = this.waiting.shift()
    if (next !== undefined) next(buffer)
    else this.free.push(buffer)
  }

  private giveBack(entry: Entry): void {
    const next = this.waiting.shift()
    if (next !== undefined) {
      this.entries.delete(entry.key)
      next(entry.buffer)
    } else {
      this.idle.set(entry.key, entry)
    }
  }
}

/** Open files, each opened once however many uploads read it at a time. */
class OpenFiles {
  private readonly files = new Map<string, OpenFile>()

  open(localPath: string): OpenFile {
    let file = this.files.get(localPath)
    if (file === undefined) {
      try {
        file = { fd: openSync(localPath, 'r'), users: 0 }
      } catch (error) {
        throw localFileError(localPath, error)
      }
      this.files.set(localPath, file)
    }
    file.users += 1
    return file
  }

  close(localPath: string, file: OpenFile): void {
    file.users -= 1
    if (file.users > 0) return
    if (this.files.get(localPath) === file) this.files.delete(localPath)
    closeSync(file.fd)
  }
}

export function createChunkReader(options: { chunkSize: number; buffers: number }): ChunkReader {
  const { chunkSize } = options
  const cache = new ChunkCache(chunkSize, options.buffers)
  const files = new OpenFiles()
  return {
    chunkSize,
    open(localPath) {
      const opened = files.open(localPath)
      let closed = false
      const read = (position: number, length: number) => (buffer: Buffer) => {
        try {
          return buffer.subarray(0, readSync(opened.fd, buffer, 0, length, position))
        } catch (error) {
          throw localFileError(localPath, error)
        }
      }
      return {
        async chunk(position, length) {
          if (length > chunkSize) throw new RangeError(`a chunk holds at most ${chunkSize} bytes`)
          const entry = await cache.take(
            `${position}:${length}:${localPath}`,
            read(position, length)
          )
          let released = false
          return {
            data: entry.data,
            release() {
              if (released) return
              released = true
              cache.release(entry)
            }
          }
        },
        close() {
          if (closed) return
          closed = true
          files.close(localPath, opened)
        }
      }
    }
  }
}
