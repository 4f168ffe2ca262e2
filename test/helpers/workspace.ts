// Workspaces for action runs: a temporary directory with the files a test describes.
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { tempDir } from '../harness/temp.js'

export function workspace(files: Record<string, string | Buffer>): string {
  const root = tempDir('ws')
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true })
    writeFileSync(join(root, path), content)
  }
  return root
}

/** Deterministic pseudo-random bytes (xorshift32), so a failure can be replayed. */
export function pseudoRandomBytes(size: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(Math.ceil(size / 4) * 4)
  let x = seed >>> 0 || 1
  for (let i = 0; i < out.length; i += 4) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    out.writeUInt32LE(x, i)
  }
  return out.subarray(0, size)
}
