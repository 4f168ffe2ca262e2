import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import {
  HASHER_PRELUDE,
  hashBatchScript,
  LINE_PREFIX,
  parseHashLines
} from '../../src/remote-hash.js'

// The scripts run here under `/bin/sh -s`, fed on stdin as a server's hashing shell is fed.
function runShell(input: string, path = process.env.PATH ?? ''): string[] {
  const out = execFileSync('/bin/sh', ['-s'], { cwd: '/tmp', env: { PATH: path }, input })
  return out
    .toString()
    .split('\n')
    .filter((line) => line.startsWith(LINE_PREFIX))
}

describe('remote hashing shell', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sfd-hash-'))
  const names = [
    'plain.txt',
    'with space.txt',
    "quote'd",
    '$(touch sfd-pwned)',
    '`id`',
    'new\nline',
    'ünï 日本',
    '-n'
  ]
  const paths = names.map((name, index) => {
    const path = join(dir, name)
    writeFileSync(path, `content ${index}`)
    return path
  })
  const expected = names.map((_, index) =>
    createHash('sha256').update(`content ${index}`).digest('hex')
  )

  test('says it is ready, then hashes every file of each batch, in order, whatever its name, running nothing', () => {
    const lines = runShell(
      HASHER_PRELUDE + hashBatchScript(paths.slice(0, 3)) + hashBatchScript(paths.slice(3))
    )
    expect(lines[0]).toBe('sfd-ready')
    expect(parseHashLines(lines.slice(1))).toEqual(expected.map((sha256) => ({ sha256 })))
    expect(() => execFileSync('test', ['-e', join('/tmp', 'sfd-pwned')])).toThrow()
  })

  test('a missing file is unreadable, the others still hashed', () => {
    const lines = runShell(
      HASHER_PRELUDE + hashBatchScript([paths[0] ?? '', join(dir, 'missing'), paths[1] ?? ''])
    )
    expect(parseHashLines(lines.slice(1))).toEqual([
      { sha256: expected[0] },
      'unreadable',
      { sha256: expected[1] }
    ])
  })

  test.each([
    ['shasum', 'shasum'],
    ['openssl', 'openssl']
  ])('uses %s when it is the only hasher', (_name, tool) => {
    const bin = mkdtempSync(join(tmpdir(), 'sfd-bin-'))
    const found = execFileSync('sh', ['-c', `command -v ${tool} || true`])
      .toString()
      .trim()
    if (found === '') return // shasum is Perl's; not every machine has it
    execFileSync('ln', ['-s', found, join(bin, tool)])
    // openssl and shasum need nothing else on PATH, but the shell's own commands are builtins.
    const lines = runShell(HASHER_PRELUDE + hashBatchScript(paths.slice(0, 2)), bin)
    expect(lines[0]).toBe('sfd-ready')
    expect(parseHashLines(lines.slice(1))).toEqual(
      expected.slice(0, 2).map((sha256) => ({ sha256 }))
    )
  })

  test('with no hasher on the host the shell says so', () => {
    const empty = mkdtempSync(join(tmpdir(), 'sfd-nobin-'))
    expect(runShell(HASHER_PRELUDE, empty)).toEqual(['sfd-none'])
  })
})
