// Local file digests, computed once per run however many hosts receive the file.

import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { DeployError } from './errors.js'

export interface LocalDigest {
  readonly sha256: string
  readonly size: number
}

export interface LocalHasher {
  digest(localPath: string): Promise<LocalDigest>
}

const READ_CHUNK = 1024 * 1024

async function hashFile(localPath: string): Promise<LocalDigest> {
  const hash = createHash('sha256')
  let size = 0
  try {
    for await (const chunk of createReadStream(localPath, { highWaterMark: READ_CHUNK })) {
      const buffer = chunk as Buffer
      hash.update(buffer)
      size += buffer.length
    }
  } catch (error) {
    throw new DeployError('local-file', `cannot read '${localPath}': ${String(error)}`, {
      cause: error
    })
  }
  return { sha256: hash.digest('hex'), size }
}

/** A hasher that remembers each file's digest (and the read under way) for the whole run. */
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
    }
  }
}
