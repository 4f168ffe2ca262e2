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

// Small files are read into this buffer and hashed at once, one after the other.
const scratch = Buffer.allocUnsafe(SYNC_READ_LIMIT + 1)

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

/** A small file in one synchronous read. Throws a DeployError. */
function hashSmallSync(localPath: string, expectedSize: number): LocalDigest {
  const content = readSmallNow(localPath, expectedSize, scratch)
  return { sha256: createHash('sha256').update(content).digest('hex'), size: content.length }
}

// A background slice of hashing lasts about this long before the event loop gets a turn.
const WARM_SLICE_MS = 5

async function hashFile(localPath: string): Promise<LocalDigest> {
  const hash = createHash('sha256')
  let size = 0
  try {
    const { size: now } = statSync(localPath)
    if (now <= SYNC_READ_LIMIT) return hashSmallSync(localPath, now)
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

export function createLocalHasher(): LocalHasher {
  // The digests computed already, read without a promise or a turn of the event loop.
  const finished = new Map<string, LocalDigest>()
  // The digests under way, and those that failed.
  const digests = new Map<string, Promise<LocalDigest>>()
  const has = (localPath: string): boolean => finished.has(localPath) || digests.has(localPath)
  /** A small file hashed now and its digest recorded. Throws a DeployError. */
  const hashSmallNow = (localPath: string, expectedSize: number): LocalDigest => {
    const digest = hashSmallSync(localPath, expectedSize)
    finished.set(localPath, digest)
    return digest
  }
  const backlog: { readonly localPath: string; readonly size: number }[] = []
  let warming = false
  const drain = async (): Promise<void> => {
    let next = 0
    while (next < backlog.length) {
      const until = performance.now() + WARM_SLICE_MS
      while (next < backlog.length && performance.now() < until) {
        const { localPath, size } = backlog[next] as (typeof backlog)[number]
        next += 1
        if (has(localPath)) continue
        try {
          hashSmallNow(localPath, size)
        } catch (error) {
          // Reported to whoever asks for this digest, not here.
          const failed = Promise.reject(error instanceof Error ? error : new Error(String(error)))
          failed.catch(() => undefined)
          digests.set(localPath, failed)
        }
      }
      await new Promise((resolve) => setImmediate(resolve))
    }
    backlog.length = 0
    warming = false
  }
  return {
    warm(files) {
      for (const file of files)
        if (file.size <= SYNC_READ_LIMIT && !has(file.localPath)) backlog.push(file)
      if (!warming && backlog.length > 0) {
        warming = true
        void drain()
      }
    },
    digest(localPath, expectedSize) {
      const done = finished.get(localPath)
      if (done !== undefined) return Promise.resolve(done)
      let pending = digests.get(localPath)
      if (pending === undefined) {
        pending =
          expectedSize !== undefined && expectedSize <= SYNC_READ_LIMIT
            ? // The executor runs at once; what it throws rejects the promise.
              new Promise((resolve) => resolve(hashSmallNow(localPath, expectedSize)))
            : hashFile(localPath)
        digests.set(localPath, pending)
        // Known without a promise from then on, as a claim's or warm's digest is.
        pending.then(
          (digest) => finished.set(localPath, digest),
          () => undefined
        )
      }
      return pending
    },
    known(localPath) {
      return finished.get(localPath)
    },
    record(localPath, content) {
      if (has(localPath)) return
      finished.set(localPath, {
        sha256: createHash('sha256').update(content).digest('hex'),
        size: content.length
      })
    },
    claim(localPath) {
      if (has(localPath)) return undefined
      let resolve: (digest: LocalDigest) => void = () => undefined
      let reject: (error: unknown) => void = () => undefined
      const pending = new Promise<LocalDigest>((done, fail) => {
        resolve = done
        reject = fail
      })
      // Nobody may be waiting when a claim is abandoned and its fallback read fails.
      pending.catch(() => undefined)
      digests.set(localPath, pending)
      let hash: Hash | undefined = createHash('sha256')
      let size = 0
      return {
        update(data) {
          hash?.update(data)
          size += data.length
        },
        finish() {
          if (hash === undefined) return
          const digest = { sha256: hash.digest('hex'), size }
          finished.set(localPath, digest)
          resolve(digest)
          hash = undefined
        },
        abandon() {
          if (hash === undefined) return
          hash = undefined
          hashFile(localPath).then(resolve, reject)
        }
      }
    }
  }
}
