import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { DeployError } from '../../src/errors.js'
import { readSmallFile } from '../../src/small-files.js'
import { pseudoRandomBytes, workspace } from '../helpers/workspace.js'

describe('reading a small file for the tar stream', () => {
  const content = pseudoRandomBytes(3000, 4)
  const dir = workspace({ 'f.bin': content, 'empty.txt': '' })
  const localPath = join(dir, 'f.bin')

  test('the planned size: the content, read into the scratch buffer', async () => {
    const scratch = Buffer.alloc(64 * 1024)
    const read = await readSmallFile({ localPath, size: content.length }, scratch)
    expect(read.equals(content)).toBe(true)
    expect(read.buffer).toBe(scratch.buffer)
    expect(
      (await readSmallFile({ localPath: join(dir, 'empty.txt'), size: 0 }, scratch)).length
    ).toBe(0)
  })

  test('a file that grew or shrank since it was planned: what it holds now', async () => {
    const scratch = Buffer.alloc(64 * 1024)
    expect((await readSmallFile({ localPath, size: 1000 }, scratch)).equals(content)).toBe(true)
    expect((await readSmallFile({ localPath, size: 5000 }, scratch)).equals(content)).toBe(true)
  })

  test('larger than the scratch buffer: read whole', async () => {
    const scratch = Buffer.alloc(1024)
    const read = await readSmallFile({ localPath, size: content.length }, scratch)
    expect(read.equals(content)).toBe(true)
    expect(read.buffer).not.toBe(scratch.buffer)
  })

  test('a file that is gone: a local-file error naming it', async () => {
    const gone = join(dir, 'gone')
    const error = await readSmallFile({ localPath: gone, size: 10 }, Buffer.alloc(1024)).catch(
      (caught: unknown) => caught
    )
    expect(error).toBeInstanceOf(DeployError)
    expect((error as DeployError).kind).toBe('local-file')
    expect((error as DeployError).message).toContain(gone)
  })
})
