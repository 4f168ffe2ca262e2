// Every command the hashing shell runs, run for real by /bin/sh in a directory whose names look
// like options: a path handed to a remote program is absolute or `./`-prefixed, so no program
// reads `-out`, `-rf` or `-h` as one.

import { execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { followScript } from '../../src/remote/follower.js'
import {
  END_LINE,
  HASHER_PRELUDE,
  HASHERS,
  hashBatchScript,
  parseHashAnswer
} from '../../src/remote/shell-protocol.js'
import { parseStagedAnswer, tarIntoShellScript } from '../../src/remote/tar-extract.js'
import { parseTargetProbe, targetProbeScript } from '../../src/remote/target-probe.js'
import { commandPath, quotePath } from '../../src/remote/shell-quote.js'
import { removeCommand, tarCommand } from '../../src/remote/tar-extract.js'
import { freeSpaceCommand } from '../../src/remote/target-probe.js'
import { endOfArchive, entryHeader, paddingSize } from '../../src/transfer/tar.js'
import { tempDir } from '../harness/temp.js'

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex')

/** Runs `script` with /bin/sh in `cwd`, `input` on stdin; its lines that start with `sfd-`. */
function sh(cwd: string, script: string, input: Buffer | string = ''): string[] {
  const out = execFileSync('/bin/sh', ['-c', script], { cwd, input, encoding: 'utf8' })
  return out.split('\n').filter((line) => line.startsWith('sfd-'))
}

/**
 * Runs `sh -s` in `cwd` as a hashing shell is run: `script` on stdin, then once the shell has
 * said `ready`, `stream`; the lines it answers that start with `sfd-`.
 */
function shellThenStream(
  cwd: string,
  script: string,
  ready: string,
  stream: Buffer
): Promise<string[]> {
  const child = spawn('/bin/sh', ['-s'], { cwd, stdio: ['pipe', 'pipe', 'inherit'] })
  let out = ''
  let sent = false
  child.stdout.on('data', (data: Buffer) => {
    out += data.toString('utf8')
    if (!sent && out.split('\n').includes(ready)) {
      sent = true
      child.stdin.end(stream)
    }
  })
  child.stdin.write(script)
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', () => resolve(out.split('\n').filter((line) => line.startsWith('sfd-'))))
  })
}

/** The lines of one answer: up to END_LINE. */
function answer(lines: string[]): string[] {
  const end = lines.indexOf(END_LINE)
  return end < 0 ? lines : lines.slice(0, end)
}

/** A directory holding files named like options, and a victim an option could overwrite. */
function optionNamedFiles(): { dir: string; files: Record<string, string> } {
  const dir = tempDir('optnames')
  const files = {
    '+first.txt': 'first\n',
    '-out': 'not an option\n',
    'victim.txt': 'victim\n',
    'z.txt': 'last\n',
    '-r': 'r\n',
    '--help': 'help\n'
  }
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content)
  return { dir, files }
}

function archive(entries: Record<string, string>): Buffer {
  const parts: Buffer[] = []
  for (const [path, content] of Object.entries(entries)) {
    const data = Buffer.from(content)
    parts.push(entryHeader({ path, type: 'file', mode: 0o644, size: data.length, mtime: 0 }))
    parts.push(data, Buffer.alloc(paddingSize(data.length)))
  }
  parts.push(endOfArchive())
  return Buffer.concat(parts)
}

describe('paths handed to remote programs', () => {
  test('relative paths are ./-prefixed, absolute ones kept, then quoted', () => {
    expect(commandPath('-out')).toBe('./-out')
    expect(commandPath('.')).toBe('./.')
    expect(commandPath('/srv/-x')).toBe('/srv/-x')
    expect(quotePath("-it's")).toBe(`'./-it'\\''s'`)
  })

  for (const hasher of HASHERS)
    test(`${hasher}: a batch with names like options hashes each file and writes nothing`, () => {
      const { dir, files } = optionNamedFiles()
      const paths = Object.keys(files)
      const lines = sh(dir, `${HASHER_PRELUDE}\n${hashBatchScript(hasher, paths)}`)
      // The prelude's answer, then the batch's.
      const batch = answer(lines.slice(lines.indexOf(END_LINE) + 1))
      expect(parseHashAnswer(hasher, paths, batch)).toEqual(
        Object.values(files).map((content) => ({ sha256: sha256(content) }))
      )
      // A link is not hashed as what it points to: a file of the build at its path is not there.
      symlinkSync('victim.txt', join(dir, '-link'))
      const withLink = [...paths, '-link', 'z.txt']
      const again = sh(dir, `${HASHER_PRELUDE}\n${hashBatchScript(hasher, withLink)}`)
      const answers = parseHashAnswer(
        hasher,
        withLink,
        answer(again.slice(again.indexOf(END_LINE) + 1))
      )
      expect(answers.at(-2)).toBe('unreadable')
      expect(answers.at(-1)).toEqual({ sha256: sha256('last\n') })
      for (const [name, content] of Object.entries(files))
        expect(readFileSync(join(dir, name), 'utf8'), name).toBe(content)
    })

  test('tar: the stream goes into a staging directory named like an option', () => {
    const dir = tempDir('optnames')
    const stream = Buffer.concat([Buffer.from('go\n'), archive({ '-n': 'n\n', 'a/-x': 'x\n' })])
    execFileSync('/bin/sh', ['-c', tarCommand('-stage')], { cwd: dir, input: stream })
    expect(readFileSync(join(dir, '-stage/-n'), 'utf8')).toBe('n\n')
    expect(readFileSync(join(dir, '-stage/a/-x'), 'utf8')).toBe('x\n')
  })

  test('tar in the hashing shell: staged and hashed, the staging directory named like an option', async () => {
    const dir = tempDir('optnames')
    const entries = { '-n': 'n\n', '-d/-rf': 'rf\n', 'b.txt': 'b\n' }
    const script = `${HASHER_PRELUDE}\n${tarIntoShellScript('-stage', 'openssl', [['-n', 'b.txt'], ['-d']], 'tag')}`
    // The shell reads the script; once it says go, tar reads the rest of stdin.
    const lines = await shellThenStream(dir, script, 'sfd-go', archive(entries))
    const staged = parseStagedAnswer(answer(lines.slice(lines.indexOf(END_LINE) + 1)))
    expect(staged.status).toBe(0)
    expect(Object.fromEntries(staged.digests)).toEqual(
      Object.fromEntries(Object.entries(entries).map(([path, content]) => [path, sha256(content)]))
    )
    for (const [path, content] of Object.entries(entries))
      expect(readFileSync(join(dir, '-stage', path), 'utf8')).toBe(content)
  })

  test('mkdir and df: the target probe makes a target named like an option', () => {
    const dir = tempDir('optnames')
    const lines = sh(dir, `${HASHER_PRELUDE}\n${targetProbeScript('-p')}`)
    const made = parseTargetProbe(answer(lines.slice(lines.indexOf(END_LINE) + 1)))
    expect(existsSync(join(dir, '-p'))).toBe(true)
    expect(made?.base.endsWith('/-p')).toBe(true)
    expect(made?.freeBytes).toBeGreaterThan(0)
  })

  test('rm: a staging directory named like an option is removed, and nothing else', () => {
    const dir = tempDir('optnames')
    mkdirSync(join(dir, '-rf/sub'), { recursive: true })
    writeFileSync(join(dir, '-rf/sub/f'), 'f')
    writeFileSync(join(dir, 'keep'), 'keep')
    execFileSync('/bin/sh', ['-c', removeCommand('-rf')], { cwd: dir })
    expect(existsSync(join(dir, '-rf'))).toBe(false)
    expect(existsSync(join(dir, 'keep'))).toBe(true)
  })

  test("df: the space of a directory named like an option, that file system's alone", () => {
    const dir = tempDir('optnames')
    mkdirSync(join(dir, '-h'))
    const out = execFileSync('/bin/sh', ['-c', freeSpaceCommand('-h')], {
      cwd: dir,
      encoding: 'utf8'
    })
    const lines = out.trim().split('\n')
    // A header and one file system, in KiB: `df -Pk -h` would list every one, sizes in units.
    expect(lines).toHaveLength(2)
    expect(lines[1]?.trim().split(/\s+/)[3]).toMatch(/^\d+$/)
  })

  test('the follower hashes a file named like an option', () => {
    const dir = tempDir('optnames')
    const content = 'followed\n'.repeat(1000)
    writeFileSync(join(dir, '-out'), content)
    const lines = sh(dir, followScript('-out'), 'end\n')
    const digest = lines.find((line) => line.startsWith('sfd-f '))
    expect(/\b([0-9a-f]{64})\b/.exec(digest ?? '')?.[1]).toBe(sha256(content))
  })
})
