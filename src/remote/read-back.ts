// Verifying without a remote hasher: the file read back over SFTP and hashed on the runner.

import { createHash } from 'node:crypto'
import type { SftpSession } from '../ssh/types.js'

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
