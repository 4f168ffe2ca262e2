import { createHash } from 'node:crypto'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { DeployError } from '../../src/errors.js'
import { createLocalHasher } from '../../src/local/digests.js'
import { pseudoRandomBytes, workspace } from '../helpers/workspace.js'

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex')

describe('local digests', () => {
  const files = Array.from({ length: 50 }, (_, index) => pseudoRandomBytes(100 + index, index + 1))
  const dir = workspace(Object.fromEntries(files.map((data, index) => [`f${index}`, data])))
  const planned = files.map((data, index) => ({
    localPath: join(dir, `f${index}`),
    size: data.length
  }))

  test('warmed in the background, each digest is the file content hash', async () => {
    const hasher = createLocalHasher()
    hasher.warm(planned)
    // Warming again, or asking before the background got there, changes nothing.
    hasher.warm(planned)
    const digests = await Promise.all(planned.map((file) => hasher.digest(file.localPath)))
    expect(digests).toEqual(files.map((data) => ({ sha256: sha256(data), size: data.length })))
    // And each is known at once, without a promise.
    expect(planned.map((file) => hasher.known(file.localPath))).toEqual(digests)
  })

  test("asked with the plan's size, a file is hashed as it is now, grown or shrunk", async () => {
    const hasher = createLocalHasher()
    const grown = join(dir, 'grown')
    const shrunk = join(dir, 'shrunk')
    writeFileSync(grown, 'x'.repeat(5000))
    writeFileSync(shrunk, 'y'.repeat(10))
    const [a, b, c] = await Promise.all([
      hasher.digest(grown, 4000),
      hasher.digest(shrunk, 4000),
      hasher.digest(planned[0]?.localPath ?? '', planned[0]?.size)
    ])
    expect(a).toEqual({ sha256: sha256(Buffer.from('x'.repeat(5000))), size: 5000 })
    expect(b).toEqual({ sha256: sha256(Buffer.from('y'.repeat(10))), size: 10 })
    expect(c).toEqual({ sha256: sha256(files[0] ?? Buffer.alloc(0)), size: files[0]?.length })
  })

  test('a file that cannot be read fails whoever asks for its digest, with its name', async () => {
    const hasher = createLocalHasher()
    const gone = join(dir, 'gone')
    rmSync(gone, { force: true })
    hasher.warm([{ localPath: gone, size: 10 }])
    await new Promise((resolve) => setImmediate(resolve))
    expect(hasher.known(gone)).toBeUndefined()
    const error = await hasher.digest(gone).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(DeployError)
    expect((error as DeployError).message).toContain('gone')
  })

  test('an upload reading the file from its start hashes it on the way, once', async () => {
    const hasher = createLocalHasher()
    const [first] = planned
    if (first === undefined) throw new Error('no file')
    const sink = hasher.claim(first.localPath)
    expect(sink).toBeDefined()
    // Whoever asks meanwhile waits for the reader, and nobody else claims it.
    expect(hasher.claim(first.localPath)).toBeUndefined()
    const waiting = hasher.digest(first.localPath)
    sink?.update(files[0]?.subarray(0, 40) ?? Buffer.alloc(0))
    sink?.update(files[0]?.subarray(40) ?? Buffer.alloc(0))
    // Known at once only when the reader has finished.
    expect(hasher.known(first.localPath)).toBeUndefined()
    sink?.finish()
    const expected = { sha256: sha256(files[0] ?? Buffer.alloc(0)), size: 100 }
    expect(hasher.known(first.localPath)).toEqual(expected)
    expect(await waiting).toEqual(expected)
  })

  test('a stream that has just read a file records its digest: nobody reads or claims it again', async () => {
    const hasher = createLocalHasher()
    const [first, second] = planned
    if (first === undefined || second === undefined) throw new Error('no file')
    // The bytes the stream read, here not what the file holds now: only they count.
    const read = Buffer.from('as read by the stream')
    hasher.record(first.localPath, read)
    const expected = { sha256: sha256(read), size: read.length }
    expect(hasher.known(first.localPath)).toEqual(expected)
    expect(await hasher.digest(first.localPath, first.size)).toEqual(expected)
    expect(hasher.claim(first.localPath)).toBeUndefined()
    hasher.warm([first])
    await new Promise((resolve) => setImmediate(resolve))
    expect(hasher.known(first.localPath)).toEqual(expected)
    // A digest computed before is kept.
    const earlier = await hasher.digest(second.localPath, second.size)
    hasher.record(second.localPath, read)
    expect(hasher.known(second.localPath)).toEqual(earlier)
    expect(earlier.sha256).toBe(sha256(files[1] ?? Buffer.alloc(0)))
  })
})
