import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  chmodSync,
  existsSync,
  readFileSync,
  readdirSync,
  realpathSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { followInShellScript, followScript } from '../../src/remote/follower.js'
import {
  END_LINE,
  HASHER_PRELUDE,
  hashBatchScript,
  LINE_PREFIX,
  parseBootLine,
  parseCwdLine,
  parseHashAnswer,
  parseHasherLine,
  type Hasher
} from '../../src/remote/shell-protocol.js'
import {
  parseStagedAnswer,
  splitTopLevel,
  tarIntoShellScript
} from '../../src/remote/tar-extract.js'
import { endOfArchive, entryHeader, paddingSize } from '../../src/transfer/tar.js'
import { tempDir } from '../harness/temp.js'

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
  const bin = tempDir('bin')
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
  const dir = tempDir('hash')
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
    const empty = tempDir('nobin')
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

    /**
     * Runs the follower in a hashing shell as the action does: the script, then (once the shell
     * says it follows) the stretches and `end`, then, once it has answered, a command of the
     * shell's own. Returns the lines of each of the two answers, and what the shell said on
     * stderr.
     */
    async function followInShell(
      target: string,
      stretches: string
    ): Promise<{ followed: string[]; after: string[]; stderr: string }> {
      const child = spawn('/bin/sh', ['-s'], { cwd: '/tmp', env: { PATH: process.env.PATH } })
      let out = ''
      let stderr = ''
      const lines = (): string[] => out.split('\n').filter((line) => line.startsWith(LINE_PREFIX))
      const seen = (line: string): Promise<void> =>
        new Promise((resolve) => {
          const look = (): void => {
            if (lines().includes(line)) resolve()
            else child.stdout.once('data', look)
          }
          look()
        })
      child.stdout.on('data', (data: Buffer) => (out += data.toString()))
      child.stderr.on('data', (data: Buffer) => (stderr += data.toString()))
      const closed = new Promise((resolve) => child.on('close', resolve))
      child.stdin.write(HASHER_PRELUDE)
      await seen(END_LINE)
      out = ''
      child.stdin.write(followInShellScript(target, 'openssl'))
      await seen('sfd-follow')
      child.stdin.write(stretches)
      await seen(END_LINE)
      const followed = lines()
      out = ''
      child.stdin.end(`echo sfd-after; echo ${END_LINE}\n`)
      await closed
      return { followed, after: lines(), stderr }
    }

    test('in a hashing shell: the digest of the whole file, then the shell takes commands again', async () => {
      const { followed, after, stderr } = await followInShell(path, '1\n2\nend\n')
      expect(followed).toHaveLength(3)
      expect(followed[0]).toBe('sfd-follow')
      expect(followed[1]).toMatch(/^sfd-f /)
      expect(followed[1]).toContain(createHash('sha256').update(content).digest('hex'))
      expect(followed[2]).toBe(END_LINE)
      expect(after).toEqual(['sfd-after', END_LINE])
      expect(stderr).toBe('')
      expect(() => execFileSync('test', ['-e', join('/tmp', 'sfd-pwned')])).toThrow()
    })

    test('in a hashing shell: a stretch that cannot be read fails, and every line sent is still its own', async () => {
      const { followed, after, stderr } = await followInShell(join(dir, 'gone'), '1\n2\nend\n')
      expect(followed).toContain('sfd-fail')
      expect(followed.at(-1)).toBe(END_LINE)
      // The lines after the failure were read by the follower, not run by the shell.
      expect(stderr).not.toMatch(/not found/)
      expect(after).toEqual(['sfd-after', END_LINE])
    })
  })
})

/** A tar archive of `files` as the action builds it. */
function tarOf(files: Record<string, string>): Buffer {
  const parts: Buffer[] = []
  for (const [path, content] of Object.entries(files)) {
    const data = Buffer.from(content)
    parts.push(entryHeader({ path, type: 'file', mode: 0o644, size: data.length, mtime: 0 }))
    parts.push(data, Buffer.alloc(paddingSize(data.length)))
  }
  parts.push(endOfArchive())
  return Buffer.concat(parts)
}

/**
 * Runs a hashing shell (`/bin/sh -s`, its prelude answered), turns it into a tar extraction
 * with tarIntoShellScript, and sends `archive` only once it has said `sfd-go`, as the action
 * does. Returns the lines after `sfd-go`.
 */
async function streamIntoShell(
  stage: string,
  archive: Buffer,
  path: string,
  halves?: readonly [readonly string[], readonly string[]],
  tag = 'tag'
): Promise<string[]> {
  const child = spawn('/bin/sh', ['-s'], { cwd: '/tmp', env: { PATH: path } })
  let out = ''
  const going = new Promise<void>((resolve) => {
    child.stdout.on('data', (data: Buffer) => {
      out += data.toString()
      if (out.includes('\nsfd-go\n')) resolve()
    })
  })
  const closed = new Promise((resolve) => child.on('close', resolve))
  child.stdin.on('error', () => undefined) // the shell may be gone before all is written
  child.stdin.write(HASHER_PRELUDE + tarIntoShellScript(stage, 'openssl', halves, tag))
  await Promise.race([going, closed])
  child.stdin.end(archive)
  await closed
  const lines = out.split('\n').filter((line) => line.startsWith(LINE_PREFIX))
  return lines.slice(lines.indexOf('sfd-go') + 1)
}

describe('a tar stream into the hashing shell', () => {
  const marker = join(tempDir('marker'), 'RAN')
  // Archive data that would run a command if a shell read it: the content, and the padding
  // after it, are lines of their own.
  const evil = `\necho ran > '${marker}'\n`.repeat(200)
  const files = {
    'a.txt': 'alpha',
    'dir/b.txt': 'beta',
    'q)= x.txt': 'quote',
    'new\nline': 'newline',
    'evil.sh': evil
  }
  const digest = (content: string): string => createHash('sha256').update(content).digest('hex')

  test('extracts into the staging directory and answers each file digest', async () => {
    const stage = join(tempDir('stage'), 'stage $(x)')
    const answer = parseStagedAnswer(
      await streamIntoShell(stage, tarOf(files), process.env.PATH ?? '')
    )
    expect(answer.status).toBe(0)
    for (const [path, content] of Object.entries(files))
      expect(readFileSync(join(stage, path), 'utf8')).toBe(content)
    // A name with a line break spans two lines of openssl's answer: it gets no digest here.
    expect(Object.fromEntries(answer.digests)).toEqual({
      'a.txt': digest('alpha'),
      'dir/b.txt': digest('beta'),
      'q)= x.txt': digest('quote'),
      'evil.sh': digest(evil)
    })
    expect(existsSync(marker)).toBe(false)
  })

  test('two halves of the tree hashed side by side answer the same digests, and leave nothing behind', async () => {
    // The tag names a file in the script: quoted like every other name.
    const tag = 't $(touch ran) `touch ran2` \'q"'
    const stage = join(tempDir('stage'), 'stage')
    const tree = { ...files, 'dir/c.txt': 'gamma', 'z/d.txt': 'delta' }
    delete (tree as Record<string, string>)['new\nline']
    const halves = splitTopLevel(Object.keys(tree))
    // dir (2 files) and 4 entries of 1: 3 files on each side.
    expect(halves?.map((half) => half.length)).toEqual([2, 3])
    const answer = parseStagedAnswer(
      await streamIntoShell(stage, tarOf(tree), process.env.PATH ?? '', halves, tag)
    )
    expect(Object.fromEntries(answer.digests)).toEqual(
      Object.fromEntries(Object.entries(tree).map(([path, content]) => [path, digest(content)]))
    )
    // What tar extracted, and nothing else: no second half's answer left, nothing the tag ran.
    expect(readdirSync(stage).sort()).toEqual(
      [...new Set(Object.keys(tree).map((path) => path.split('/')[0]))].sort()
    )
  })

  test('the halves: whole top-level entries, about as many files each', () => {
    expect(splitTopLevel(['a/1', 'a/2', 'a/3', 'b/1', 'c/1', 'c/2', 'top'])).toEqual([
      ['a', 'top'],
      ['c', 'b']
    ])
    // One entry, nothing to split.
    expect(splitTopLevel(['a/1', 'a/2'])).toBeUndefined()
  })

  test('a tar that stops early leaves the rest of the stream unread, and none of it runs', async () => {
    const bin = binWith('openssl', 'head', 'rm', 'mkdir')
    writeFileSync(join(bin, 'tar'), '#!/bin/sh\nhead -c 512 >/dev/null\necho broken >&2\nexit 2\n')
    chmodSync(join(bin, 'tar'), 0o755)
    const stage = join(tempDir('stage'), 'stage')
    const lines = await streamIntoShell(stage, tarOf({ 'evil.sh': evil }), bin)
    const answer = parseStagedAnswer(lines)
    expect(answer).toEqual({ status: 2, message: 'broken', digests: new Map() })
    expect(lines.at(-1)).toBe(END_LINE)
    expect(existsSync(marker)).toBe(false)
  })

  test('a staging directory that cannot be made is said before any of the stream is read', () => {
    const file = join(tempDir('stage'), 'a file')
    writeFileSync(file, '')
    const shell = spawnSync('/bin/sh', ['-s'], {
      env: { PATH: process.env.PATH ?? '' },
      input: HASHER_PRELUDE + tarIntoShellScript(join(file, 'stage'), 'openssl') + evil
    })
    expect(shell.status).toBe(3)
    const lines = shell.stdout
      .toString()
      .split('\n')
      .filter((line) => line.startsWith(LINE_PREFIX))
    expect(lines.slice(-2)).toEqual(['sfd-nogo', 'sfd-go'])
    expect(existsSync(marker)).toBe(false)
  })

  test('a digest for a path named twice counts for neither', () => {
    const hex = 'a'.repeat(64)
    const answer = parseStagedAnswer([
      'sfd-tar 0',
      `sfd-o SHA2-256(./x)= ${hex}`,
      `sfd-o SHA2-256(./x)= ${'b'.repeat(64)}`,
      `sfd-o SHA256(./y)= ${hex}`,
      'sfd-o SHA2-256(./z)= not hex'
    ])
    expect(Object.fromEntries(answer.digests)).toEqual({ y: hex })
  })

  test('only the hasher openssl is asked to hash the staged files', () => {
    expect(tarIntoShellScript('s', 'openssl')).toContain('find . -type f -exec openssl dgst')
    expect(tarIntoShellScript('s', 'sha256sum')).not.toContain('find')
  })
})
