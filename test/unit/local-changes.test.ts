import { createHash } from 'node:crypto'
import {
  appendFileSync,
  closeSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync
} from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { DeployError } from '../../src/errors.js'
import { checkReadSync, checkSent, identityChange } from '../../src/local/changes.js'
import { identityOf } from '../../src/local/plan.js'
import { tempDir } from '../harness/temp.js'

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex')

/** A file as the plan found it. */
function planned(content: string): {
  localPath: string
  relativePath: string
  identity: ReturnType<typeof identityOf>
} {
  const localPath = join(tempDir('changes'), 'f.txt')
  writeFileSync(localPath, content)
  return { localPath, relativePath: 'f.txt', identity: identityOf(statSync(localPath)) }
}

/** Waits until the clock has moved past the file's mtime, so that a write changes it. */
async function laterThan(path: string): Promise<void> {
  const mtime = statSync(path).mtimeMs
  while (Date.now() <= mtime + 1) await new Promise((resolve) => setTimeout(resolve, 2))
}

const changed = /'f\.txt' changed on the runner while it was being deployed/

describe('a local file that changes while it is deployed', () => {
  test('as the plan found it: nothing to say', async () => {
    const file = planned('same')
    expect(identityChange(file.identity, statSync(file.localPath))).toBeUndefined()
    const content = readFileSync(file.localPath)
    await expect(
      checkSent(file, { sha256: sha256(content), size: content.length })
    ).resolves.toBeUndefined()
  })

  test('rewritten in place with the same size: changed, a local-file error (never retried)', async () => {
    const file = planned('version 1')
    await laterThan(file.localPath)
    writeFileSync(file.localPath, 'version 2')
    const error = await checkSent(file, undefined).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(DeployError)
    expect((error as DeployError).kind).toBe('local-file')
    expect((error as DeployError).retryable).toBe(false)
    expect((error as DeployError).message).toMatch(changed)
  })

  test('another file renamed over it: changed, whatever was read', async () => {
    const file = planned('old')
    const other = `${file.localPath}.new`
    writeFileSync(other, 'old')
    renameSync(other, file.localPath)
    const content = readFileSync(file.localPath)
    await expect(
      checkSent(file, { sha256: sha256(content), size: content.length })
    ).rejects.toThrow(/another file is at its path now/)
  })

  test('only grown, what was sent its first bytes: fine; sent bytes that are not its first: changed', async () => {
    const file = planned('line 1\n')
    const sent = readFileSync(file.localPath)
    await laterThan(file.localPath)
    appendFileSync(file.localPath, 'line 2\n')
    await expect(
      checkSent(file, { sha256: sha256(sent), size: sent.length })
    ).resolves.toBeUndefined()
    const other = Buffer.from('LINE 1\n')
    await expect(checkSent(file, { sha256: sha256(other), size: other.length })).rejects.toThrow(
      changed
    )
    // Without the digest of what was sent, growth cannot be told from a rewrite.
    await expect(checkSent(file, undefined)).rejects.toThrow(/it grew from 7 to 14 bytes/)
  })

  test('a small file read whole: checked through its open descriptor', async () => {
    const file = planned('abc')
    const fd = openSync(file.localPath, 'r')
    try {
      expect(() => checkReadSync(file, fd, Buffer.from('abc'))).not.toThrow()
      await laterThan(file.localPath)
      appendFileSync(file.localPath, 'def')
      // Grown, and what was read is its start.
      expect(() => checkReadSync(file, fd, Buffer.from('abc'))).not.toThrow()
      // Not its start: a torn or stale read.
      expect(() => checkReadSync(file, fd, Buffer.from('abd'))).toThrow(changed)
    } finally {
      closeSync(fd)
    }
    await laterThan(file.localPath)
    writeFileSync(file.localPath, 'ab')
    const fd2 = openSync(file.localPath, 'r')
    try {
      expect(() => checkReadSync(file, fd2, Buffer.from('ab'))).toThrow(
        /it shrank from 3 to 2 bytes/
      )
    } finally {
      closeSync(fd2)
    }
  })
})
