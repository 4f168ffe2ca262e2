import { statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { DeployError } from '../../src/errors.js'
import { identityOf } from '../../src/local/plan.js'
import { readSmallFile } from '../../src/transfer/tar-stream.js'
import { pseudoRandomBytes, workspace } from '../helpers/workspace.js'

describe('reading a small file for the tar stream', () => {
  const content = pseudoRandomBytes(3000, 4)
  const dir = workspace({ 'f.bin': content, 'empty.txt': '' })
  const localPath = join(dir, 'f.bin')
  // As the plan has it: the size it gives, the identity the file has now.
  const planned = (path: string, size: number) => ({
    localPath: path,
    relativePath: path,
    size,
    identity: identityOf(statSync(path))
  })

  test('the planned size: the content, read into the scratch buffer', async () => {
    const scratch = Buffer.alloc(64 * 1024)
    const read = await readSmallFile(planned(localPath, content.length), scratch, false)
    expect(read.equals(content)).toBe(true)
    expect(read.buffer).toBe(scratch.buffer)
    expect((await readSmallFile(planned(join(dir, 'empty.txt'), 0), scratch, false)).length).toBe(0)
  })

  test('a file that grew or shrank since it was planned: what it holds now', async () => {
    const scratch = Buffer.alloc(64 * 1024)
    expect((await readSmallFile(planned(localPath, 1000), scratch, false)).equals(content)).toBe(
      true
    )
    expect((await readSmallFile(planned(localPath, 5000), scratch, false)).equals(content)).toBe(
      true
    )
  })

  test('larger than the scratch buffer: read whole', async () => {
    const scratch = Buffer.alloc(1024)
    const read = await readSmallFile(planned(localPath, content.length), scratch, false)
    expect(read.equals(content)).toBe(true)
    expect(read.buffer).not.toBe(scratch.buffer)
  })

  test('a file that is gone: a local-file error naming it', async () => {
    const gone = join(dir, 'gone')
    const error = await readSmallFile(
      { ...planned(localPath, 10), localPath: gone },
      Buffer.alloc(1024),
      true
    ).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(DeployError)
    expect((error as DeployError).kind).toBe('local-file')
    expect((error as DeployError).message).toContain(gone)
  })
})
