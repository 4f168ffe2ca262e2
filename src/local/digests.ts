// Local file digests, computed once per run however many hosts receive the file. The first
// upload that reads a file from its start hashes the bytes as it reads them (a claim), so a
// file is read for hashing separately only when no upload read it whole.

import { createHash, type Hash } from 'node:crypto'
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { DeployError, localFileError } from '../errors.js'
import { checkReadByPath, checkReadSync, type CheckedFile } from './changes.js'

export interface LocalDigest {
  readonly sha256: string
  readonly size: number
}

/** Receives a file's bytes in order, from its first byte to its last. */
export interface HashSink {
  update(data: Buffer): void
  /** All bytes given: the digest is published. */
  finish(): void
  /** The reading stopped early: whoever waits gets the digest from a separate read. */
  abandon(): void
}

export interface LocalHasher {
  /**
   * The file's digest, computed now if nobody has; `expectedSize` (the plan's) lets a small
   * file be read without a stat first.
   */
  digest(localPath: string, expectedSize?: number): Promise<LocalDigest>
  /**
   * Hashes the small ones of `files` in the background, a slice at a time between other
   * work (connections keep being served); large files are left to be hashed as they are sent.
   */
  warm(files: readonly { readonly localPath: string; readonly size: number }[]): void
  /** A sink for a reader about to read the whole file, or undefined when the digest is known or under way. */
  claim(localPath: string): HashSink | undefined
  /** The file's digest where a claim or `warm` has computed it already, else undefined. */
  known(localPath: string): LocalDigest | undefined
  /** Hashes `content`, the whole file just read, unless its digest is known or under way. */
  record(localPath: string, content: Buffer): void
}

const READ_CHUNK = 1024 * 1024
// Files this small are read in one synchronous call: for thousands of them, a trip through the
// thread pool per open, stat, read and close costs more than the reading.
const SYNC_READ_LIMIT = 64 * 1024

/**
 * A small file's content with one open, one read and one close into `scratch` (no stat: asking
 * for one byte more than expected tells whether it grew), or with readFileSync when it is larger
 * than `scratch` or grew. The result may be a view of `scratch`, valid until its next use.
 * With `check`, the file must still be as the plan found it once read (see local-changes).
 */
function readSmallSync(
  localPath: string,
  expectedSize: number,
  scratch: Buffer,
  check?: CheckedFile
): Buffer {
  if (expectedSize < scratch.length) {
    const fd = openSync(localPath, 'r')
    try {
      const read = readSync(fd, scratch, 0, expectedSize + 1, 0)
      if (read <= expectedSize) {
        const content = scratch.subarray(0, read)
        if (check !== undefined) checkReadSync(check, fd, content)
        return content
      }
    } finally {
      closeSync(fd)
    }
  }
  const content = readFileSync(localPath)
  if (check !== undefined) checkReadByPath(check, content)
  return content
}

/** readSmallSync, its failure a `local-file` DeployError that names the file. */
export function readSmallNow(
  localPath: string,
  expectedSize: number,
  scratch: Buffer,
  check?: CheckedFile
): Buffer {
  try {
    return readSmallSync(localPath, expectedSize, scratch, check)
  } catch (error) {
    throw error instanceof DeployError ? error : localFileError(localPath, error)
  }
}

/** A small file in one synchronous read into `scratch`. Throws a DeployError. */
function hashSmallSync(localPath: string, expectedSize: number, scratch: Buffer): LocalDigest {
  const content = readSmallNow(localPath, expectedSize, scratch)
  return { sha256: createHash('sha256').update(content).digest('hex'), size: content.length }
}

// A background slice of hashing lasts about this long before the event loop gets a turn.
const WARM_SLICE_MS = 5

/** A file of any size, read in chunks (a small one in one read into `scratch`). */
async function hashFile(localPath: string, scratch: Buffer): Promise<LocalDigest> {
  const hash = createHash('sha256')
  let size = 0
  try {
    const { size: now } = statSync(localPath)
    if (now <= SYNC_READ_LIMIT) return hashSmallSync(localPath, now, scratch)
    const file = await open(localPath, 'r')
    try {
      const { size: expected } = await file.stat()
      const buffer = Buffer.allocUnsafe(Math.max(1, Math.min(READ_CHUNK, expected)))
      for (;;) {
        const { bytesRead } = await file.read(buffer, 0, buffer.length, size)
        if (bytesRead === 0) break
        hash.update(buffer.subarray(0, bytesRead))
        size += bytesRead
      }
    } finally {
      await file.close()
    }
  } catch (error) {
    throw error instanceof DeployError ? error : localFileError(localPath, error)
  }
  return { sha256: hash.digest('hex'), size }
}

type Planned = { readonly localPath: string; readonly size: number }

class LocalDigests implements LocalHasher {
  /** The digests computed already, read without a promise or a turn of the event loop. */
  private readonly finished = new Map<string, LocalDigest>()
  /** The digests under way, and those that failed. */
  private readonly pending = new Map<string, Promise<LocalDigest>>()
  /** Small files are read into this buffer and hashed at once, one after the other. */
  private readonly scratch = Buffer.allocUnsafe(SYNC_READ_LIMIT + 1)
  private readonly backlog: Planned[] = []
  private warming = false

  warm(files: readonly Planned[]): void {
    for (const file of files)
      if (file.size <= SYNC_READ_LIMIT && !this.has(file.localPath)) this.backlog.push(file)
    if (!this.warming && this.backlog.length > 0) {
      this.warming = true
      void this.drain()
    }
  }

  digest(localPath: string, expectedSize?: number): Promise<LocalDigest> {
    const done = this.finished.get(localPath)
    if (done !== undefined) return Promise.resolve(done)
    let pending = this.pending.get(localPath)
    if (pending === undefined) {
      pending =
        expectedSize !== undefined && expectedSize <= SYNC_READ_LIMIT
          ? // The executor runs at once; what it throws rejects the promise.
            new Promise((resolve) => resolve(this.hashSmallNow(localPath, expectedSize)))
          : hashFile(localPath, this.scratch)
      this.pending.set(localPath, pending)
      // Known without a promise from then on, as a claim's or warm's digest is.
      pending.then(
        (digest) => this.finished.set(localPath, digest),
        () => undefined
      )
    }
    return pending
  }

  known(localPath: string): LocalDigest | undefined {
    return this.finished.get(localPath)
  }

  record(localPath: string, content: Buffer): void {
    if (this.has(localPath)) return
    this.finished.set(localPath, {
      sha256: createHash('sha256').update(content).digest('hex'),
      size: content.length
    })
  }

  claim(localPath: string): HashSink | undefined {
    if (this.has(localPath)) return undefined
    let resolve: (digest: LocalDigest) => void = () => undefined
    let reject: (error: unknown) => void = () => undefined
    const pending = new Promise<LocalDigest>((done, fail) => {
      resolve = done
      reject = fail
    })
    // Nobody may be waiting when a claim is abandoned and its fallback read fails.
    pending.catch(() => undefined)
    this.pending.set(localPath, pending)
    let hash: Hash | undefined = createHash('sha256')
    let size = 0
    return {
      update: (data) => {
        hash?.update(data)
        size += data.length
      },
      finish: () => {
        if (hash === undefined) return
        const digest = { sha256: hash.digest('hex'), size }
        this.finished.set(localPath, digest)
        resolve(digest)
        hash = undefined
      },
      abandon: () => {
        if (hash === undefined) return
        hash = undefined
        hashFile(localPath, this.scratch).then(resolve, reject)
      }
    }
  }

  private has(localPath: string): boolean {
    return this.finished.has(localPath) || this.pending.has(localPath)
  }

  /** A small file hashed now and its digest recorded. Throws a DeployError. */
  private hashSmallNow(localPath: string, expectedSize: number): LocalDigest {
    const digest = hashSmallSync(localPath, expectedSize, this.scratch)
    this.finished.set(localPath, digest)
    return digest
  }

  /** Hashes the backlog a slice at a time, the event loop served between slices. */
  private async drain(): Promise<void> {
    let next = 0
    while (next < this.backlog.length) {
      const until = performance.now() + WARM_SLICE_MS
      while (next < this.backlog.length && performance.now() < until) {
        const { localPath, size } = this.backlog[next] as Planned
        next += 1
        if (!this.has(localPath)) this.hashOrKeepFailure(localPath, size)
      }
      await new Promise((resolve) => setImmediate(resolve))
    }
    this.backlog.length = 0
    this.warming = false
  }

  private hashOrKeepFailure(localPath: string, size: number): void {
    try {
      this.hashSmallNow(localPath, size)
    } catch (error) {
      // Reported to whoever asks for this digest, not here.
      const failed = Promise.reject(
        error instanceof DeployError ? error : localFileError(localPath, error)
      )
      failed.catch(() => undefined)
      this.pending.set(localPath, failed)
    }
  }
}

export function createLocalHasher(): LocalHasher {
  return new LocalDigests()
}
