import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import {
  END_LINE,
  followScript,
  HASHER_PRELUDE,
  hashBatchScript,
  LINE_PREFIX,
  parseBootLine,
  parseCwdLine,
  parseHashAnswer,
  parseHasherLine,
  type Hasher
} from '../../src/remote-hash.js'

/** Feeds scripts to `/bin/sh -s` as a server's hashing shell is fed; returns each answer. */
function runShell(inputs: readonly string[], path = process.env.PATH ?? ''): string[][] {
  const out = execFileSync('/bin/sh', ['-s'], {
    cwd: '/tmp',
    env: { PATH: path },
    input: inputs.join('')
  })
  const answers: string[][] = [[]]
  for (const line of out.toString().split('\n')) {
    if (!line.startsWith(LINE_PREFIX)) continue
    if (line === END_LINE) answers.push([])
    else answers[answers.length - 1]?.push(line)
  }
  return answers.slice(0, -1)
}

/** A directory holding only the named commands (and a shell), to stand for a sparse host. */
function binWith(...tools: string[]): string {
  const bin = mkdtempSync(join(tmpdir(), 'sfd-bin-'))
  for (const tool of tools) {
    const found = execFileSync('sh', ['-c', `command -v ${tool} || true`])
      .toString()
      .trim()
    expect(found, `${tool} is installed`).not.toBe('')
    symlinkSync(found, join(bin, tool))
  }
  return bin
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
    '-n',
    'a)= b'
  ]
  const paths = names.map((name, index) => {
    const path = join(dir, name)
    writeFileSync(path, `content ${index}`)
    return path
  })
  const expected = names.map((_, index) => ({
    sha256: createHash('sha256').update(`content ${index}`).digest('hex')
  }))

  test('picks openssl where it is installed, and says which machine it runs on and where', () => {
    const answer = runShell([HASHER_PRELUDE])[0] ?? []
    expect(parseHasherLine(answer)).toBe('openssl')
    expect(parseBootLine(answer)).toBe(
      readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
    )
    // Where relative paths start, symbolic links resolved.
    expect(parseCwdLine(answer)).toBe(realpathSync('/tmp'))
  })

  const hosts: [Hasher, string[]][] = [
    ['openssl', ['openssl']],
    ['openssl', ['openssl', 'sed']],
    ['sha256sum', ['sha256sum']],
    ['shasum', ['shasum', 'perl']]
  ]
  test.each(hosts)(
    '%s: every file of each batch, in order, whatever its name, running nothing',
    (hasher, tools) => {
      const bin = binWith(...tools)
      const missing = join(dir, 'missing file')
      const batches = [paths.slice(0, 4), [...paths.slice(4), missing, paths[0] ?? '']]
      const answers = runShell(
        [HASHER_PRELUDE, ...batches.map((batch) => hashBatchScript(hasher, batch))],
        bin
      )
      expect(parseHasherLine(answers[0] ?? [])).toBe(hasher)
      expect(parseHashAnswer(hasher, batches[0] ?? [], answers[1] ?? [])).toEqual(
        expected.slice(0, 4)
      )
      expect(parseHashAnswer(hasher, batches[1] ?? [], answers[2] ?? [])).toEqual([
        ...expected.slice(4),
        'unreadable',
        expected[0]
      ])
      expect(() => execFileSync('test', ['-e', join('/tmp', 'sfd-pwned')])).toThrow()
    }
  )

  test('with no hasher on the host the shell says so', () => {
    const empty = mkdtempSync(join(tmpdir(), 'sfd-nobin-'))
    const answers = runShell([HASHER_PRELUDE], empty)
    expect(answers[0]).toContain('sfd-hasher none')
    expect(parseHasherLine(answers[0] ?? [])).toBeUndefined()
  })

  describe('following a file as it is written', () => {
    const MiB = 1024 * 1024
    const content = Buffer.concat([
      Buffer.alloc(3 * MiB, 7),
      Buffer.from('tail, not a whole block')
    ])
    const path = join(dir, 'followed $(touch sfd-pwned).bin')
    writeFileSync(path, content)

    const follow = (target: string, input: string, tools: string[]): string[] =>
      execFileSync('/bin/sh', ['-c', followScript(target)], {
        env: { PATH: binWith(...tools) },
        input
      })
        .toString()
        .split('\n')
        .filter((line) => line.startsWith(LINE_PREFIX))

    test.each([
      ['openssl', ['openssl', 'dd']],
      ['sha256sum', ['sha256sum', 'dd']]
    ])('%s: the stretches told, then the rest, hash to the whole file', (_, tools) => {
      const lines = follow(path, '1\n2\nend\n', tools)
      expect(lines.at(-1)).toBe(END_LINE)
      expect(lines[0]).toContain(createHash('sha256').update(content).digest('hex'))
      expect(() => execFileSync('test', ['-e', join('/tmp', 'sfd-pwned')])).toThrow()
    })

    test('a stretch that cannot be read says so instead of a digest of part of the file', () => {
      const lines = follow(join(dir, 'no such file'), '1\nend\n', ['openssl', 'dd'])
      expect(lines).toContain('sfd-fail')
    })
  })
})
