import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { hashBatchCommand, parseHashBatch } from '../../src/remote-hash.js'

// The batch script runs here under /bin/sh, as a server's login shell would run it.
function runBatch(paths: string[], path = process.env.PATH ?? ''): string {
  return execFileSync('/bin/sh', ['-c', hashBatchCommand(paths)], {
    cwd: '/tmp',
    env: { PATH: path }
  }).toString()
}

describe('remote hashing command', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sfd-hash-'))
  const names = [
    'plain.txt',
    'with space.txt',
    "quote'd",
    '$(touch sfd-pwned)',
    '`id`',
    'new\nline',
    'ünï 日本'
  ]
  const paths = names.map((name, index) => {
    const path = join(dir, name)
    writeFileSync(path, `content ${index}`)
    return path
  })
  const expected = names.map((_, index) =>
    createHash('sha256').update(`content ${index}`).digest('hex')
  )

  test('hashes every file, in order, whatever its name, running nothing', () => {
    const answer = parseHashBatch(runBatch(paths), paths.length)
    expect(answer).toEqual(expected.map((sha256) => ({ sha256 })))
    expect(() => execFileSync('test', ['-e', join('/tmp', 'sfd-pwned')])).toThrow()
  })

  test('a missing file is unreadable, the others still hashed', () => {
    const answer = parseHashBatch(
      runBatch([paths[0] ?? '', join(dir, 'missing'), paths[1] ?? '']),
      3
    )
    expect(answer).toEqual([{ sha256: expected[0] }, 'unreadable', { sha256: expected[1] }])
  })

  test('falls back to openssl when sha256sum and shasum are absent', () => {
    const bin = mkdtempSync(join(tmpdir(), 'sfd-bin-'))
    const openssl = execFileSync('sh', ['-c', 'command -v openssl']).toString().trim()
    execFileSync('ln', ['-s', openssl, join(bin, 'openssl')])
    const answer = parseHashBatch(runBatch(paths.slice(0, 2), bin), 2)
    expect(answer).toEqual(expected.slice(0, 2).map((sha256) => ({ sha256 })))
  })

  test('no hasher, or output that is not ours (sftp-only accounts), means unavailable', () => {
    const empty = mkdtempSync(join(tmpdir(), 'sfd-nobin-'))
    expect(parseHashBatch(runBatch(paths.slice(0, 2), empty), 2)).toBe('unavailable')
    expect(parseHashBatch('', 2)).toBe('unavailable')
    expect(parseHashBatch('This service allows sftp connections only.\n', 1)).toBe('unavailable')
  })
})
