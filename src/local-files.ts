// Local file digests, computed once per run however many hosts receive the file. The first
// upload that reads a file from its start hashes the bytes as it reads them (a claim), so a
// file is read for hashing separately only when no upload read it whole.

import { createHash, type Hash } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { DeployError } from './errors.js'

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
  digest(localPath: string): Promise<LocalDigest>
  /** A sink for a reader about to read the whole file, or undefined when the digest is known or under way. */
  claim(localPath: string): HashSink | undefined
}

const READ_CHUNK = 1024 * 1024
// Files this small are read in one synchronous call: for thousands of them, a trip through the
// thread pool per open, stat, read and close costs more than the reading.
const SYNC_READ_LIMIT = 64 * 1024

async function hashFile(localPath: string): Promise<LocalDigest> {
  const hash = createHash('sha256')
  let size = 0
  try {
    if (statSync(localPath).size <= SYNC_READ_LIMIT) {
      const content = readFileSync(localPath)
      return { sha256: hash.update(content).digest('hex'), size: content.length }
    }
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
    throw new DeployError('local-file', `cannot read '${localPath}': ${String(error)}`, {
      cause: error
    })
  }
  return { sha256: hash.digest('hex'), size }
}

export function createLocalHasher(): LocalHasher {
  const digests = new Map<string, Promise<LocalDigest>>()
  return {
    digest(localPath) {
      let pending = digests.get(localPath)
      if (pending === undefined) {
        pending = hashFile(localPath)
        digests.set(localPath, pending)
      }
      return pending
    },
    claim(localPath) {
      if (digests.has(localPath)) return undefined
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
          resolve({ sha256: hash.digest('hex'), size })
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
