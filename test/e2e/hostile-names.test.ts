// File names a workspace may hold that are ordinary on Linux but easy to misread: backslashes,
// a leading '-', dots, bytes that are not UTF-8, and symbolic links sent as links. Each lands
// under its literal name, or the step fails before connecting with a message that names it.

import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, test } from 'vitest'
import { workspace } from '../helpers/workspace.js'
import {
  fleetInputs,
  logOf,
  results,
  runAction,
  sha256,
  treeDigest
} from '../harness/run-action.js'
import { useFleet, type TestHost } from '../harness/sshd.js'

const fleet = useFleet({ count: 4 })

const host = (index: number): TestHost => fleet.host(index)

/** What treeDigest should find where `files` landed. */
function digestsOf(files: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(files).map(([path, content]) => [path, sha256(content)]))
}

/** Every entry below `dir` (directories and links too, links not followed), relative. */
function allEntries(dir: string): string[] {
  const found: string[] = []
  const walk = (current: string): void => {
    for (const name of readdirSync(current)) {
      const path = join(current, name)
      found.push(relative(dir, path))
      if (lstatSync(path).isDirectory()) walk(path)
    }
  }
  walk(dir)
  return found.sort()
}

/** Inode and modification time of each of `paths` below `dir`: what a rewrite changes. */
function identities(dir: string, paths: readonly string[]): Record<string, string> {
  return Object.fromEntries(
    paths.map((path) => {
      const info = lstatSync(join(dir, path), { bigint: true })
      return [path, `${info.ino}@${info.mtimeNs}`]
    })
  )
}

/** Empties a host's login directory, for a test that deploys to `~`. */
function emptyHome(h: TestHost): void {
  for (const name of readdirSync(h.home)) rmSync(join(h.home, name), { recursive: true })
}

const connections = (h: TestHost): number => (h.log().match(/Connection from/g) ?? []).length

describe('file names are taken literally', () => {
  test('backslashes are ordinary name characters: the files land under their literal names inside target', async () => {
    const h = host(0)
    const files = {
      'x\\..\\..\\ESCAPED.txt': 'would climb out of target if read as separators',
      'back\\slash\\n': 'one file, not three directories'
    }
    const ws = workspace(
      Object.fromEntries(Object.entries(files).map(([path, content]) => [`site/${path}`, content]))
    )
    // A negated pattern takes @actions/glob's matching rather than the literal walk.
    const run = await runAction(
      fleetInputs(fleet, [h], {
        source: '**\n!**/*.map',
        'working-directory': 'site',
        target: 'www/bs'
      }),
      { cwd: ws }
    )
    expect(run.code, logOf(run)).toBe(0)
    expect(treeDigest(h.path('www/bs'))).toEqual(digestsOf(files))
    const escaped = allEntries(h.home).filter(
      (path) => path.endsWith('ESCAPED.txt') && !path.startsWith('www/bs/')
    )
    expect(escaped).toEqual([])
    expect(allEntries(h.home).filter((path) => path.split('/').includes('back'))).toEqual([])
  })

  test('names starting with "-" are never read as options: a redeploy to the login directory skips them all and overwrites nothing', async () => {
    const h = host(1)
    emptyHome(h)
    const files = {
      '+first.txt': 'plus first',
      '-out': 'dash out',
      'victim.txt': 'victim: original content',
      'z.txt': 'zed'
    }
    const ws = workspace(files)
    const inputs = fleetInputs(fleet, [h], { source: '**', target: '~' })
    const first = await runAction(inputs, { cwd: ws })
    expect(first.code, logOf(first)).toBe(0)
    expect(treeDigest(h.home)).toEqual(digestsOf(files))
    const before = identities(h.home, Object.keys(files))

    const second = await runAction(inputs, { cwd: ws })
    expect(second.code, logOf(second)).toBe(0)
    expect(results(second)[0]).toMatchObject({ status: 'success', uploaded: 0, skipped: 4 })
    expect(readFileSync(h.path('victim.txt'), 'utf8')).toBe('victim: original content')
    expect(treeDigest(h.home)).toEqual(digestsOf(files))
    // Not written, nor replaced, while it was compared.
    expect(identities(h.home, Object.keys(files))).toEqual(before)
  })

  test('names starting with "-" in a tar stream and in batch hashing: each lands whole and a redeploy skips them all', async () => {
    const h = host(1)
    emptyHome(h)
    const files: Record<string, string> = {
      '+first.txt': 'plus first',
      '-out': 'dash out',
      'victim.txt': 'victim: original content',
      'z.txt': 'zed',
      '-d/-rf': 'dash rf',
      '-d/-n': 'dash n'
    }
    for (let i = 0; i < 20; i += 1) files[`small/${i}.txt`] = `small ${i}`
    const ws = workspace(files)
    const inputs = fleetInputs(fleet, [h], { source: '**', target: '~' })
    const first = await runAction(inputs, { cwd: ws })
    expect(first.code, logOf(first)).toBe(0)
    expect(treeDigest(h.home)).toEqual(digestsOf(files))

    const second = await runAction(inputs, { cwd: ws })
    expect(second.code, logOf(second)).toBe(0)
    expect(results(second)[0]).toMatchObject({
      status: 'success',
      uploaded: 0,
      skipped: Object.keys(files).length
    })
    expect(treeDigest(h.home)).toEqual(digestsOf(files))
  })
})

describe('names the action cannot send, and places it cannot write, are named in the message', () => {
  test('names made of dots and a lone backslash deploy like any other', async () => {
    const h = host(2)
    const files = { '...': 'three dots', '..x': 'dot dot x', '\\': 'a backslash' }
    // The literal walk, and @actions/glob's matching (which a negated pattern needs).
    for (const [source, target] of [
      ['**', 'dots-walk'],
      ['**\n!**/*.map', 'dots-glob']
    ] as const) {
      const run = await runAction(fleetInputs(fleet, [h], { source, target }), {
        cwd: workspace(files)
      })
      expect(run.code, `${source}: ${logOf(run)}`).toBe(0)
      expect(treeDigest(h.path(target))).toEqual(digestsOf(files))
    }
  })

  test('a file name that is not valid UTF-8 fails the step before any connection, naming the file', async () => {
    const h = host(2)
    const ws = workspace({ 'good.txt': 'good' })
    writeFileSync(
      Buffer.concat([Buffer.from(join(ws, 'bad')), Buffer.from([0xff]), Buffer.from('.txt')]),
      'bad name'
    )
    const before = connections(h)
    const run = await runAction(fleetInputs(fleet, [h], { source: '**', target: 'utf8' }), {
      cwd: ws
    })
    expect(run.code).toBe(1)
    const failure = run.stdout.split('\n').find((line) => line.startsWith('::error'))
    expect(failure, logOf(run)).toMatch(/Input 'source'/)
    expect(failure).toContain('not valid UTF-8')
    expect(failure).toContain('bad\\xff.txt')
    expect(connections(h)).toBe(before)
    expect(existsSync(h.path('utf8'))).toBe(false)
  })

  test.each([
    { files: 'one file', others: 0, target: 'in-the-way-one' },
    { files: 'many small files', others: 24, target: 'in-the-way-many' }
  ])(
    'a directory on the host where a file goes ($files): the host fails with "a directory is in the way", not a full disk',
    async ({ others, target }) => {
      const h = host(3)
      mkdirSync(h.path(`${target}/index.html`), { recursive: true })
      writeFileSync(h.path(`${target}/index.html/keep.txt`), 'kept')
      const files: Record<string, string> = { 'index.html': '<h1>new</h1>' }
      for (let i = 0; i < others; i += 1) files[`assets/${i}.txt`] = `asset ${i}`
      const run = await runAction(fleetInputs(fleet, [h], { target }), { cwd: workspace(files) })
      expect(run.code, logOf(run)).toBe(1)
      const [result] = results(run)
      expect(result?.status).toBe('failed')
      expect(result?.error).toMatch(/a directory is in the way/)
      expect(result?.error).toContain('index.html')
      expect(result?.error).not.toMatch(/disk/i)
      expect(readFileSync(h.path(`${target}/index.html/keep.txt`), 'utf8')).toBe('kept')
    }
  )
})

describe('symbolic links', () => {
  test('follow-symbolic-links: false deploys a link as a link, and a redeploy skips it; true sends the linked content', async () => {
    const h = host(3)
    const outside = 'outside the working directory: never sent'
    const ws = workspace({ 'site/real.txt': 'real', 'outside.txt': outside })
    symlinkSync('../outside.txt', join(ws, 'site/link.txt'))
    symlinkSync('/nonexistent/sfd-absolute-link-target', join(ws, 'site/abs'))
    const inputs = fleetInputs(fleet, [h], {
      'working-directory': 'site',
      target: 'links',
      'follow-symbolic-links': 'false'
    })

    const first = await runAction(inputs, { cwd: ws })
    expect(first.code, logOf(first)).toBe(0)
    expect(results(first)[0]?.status).toBe('success')
    expect(lstatSync(h.path('links/link.txt')).isSymbolicLink()).toBe(true)
    expect(readlinkSync(h.path('links/link.txt'))).toBe('../outside.txt')
    expect(lstatSync(h.path('links/abs')).isSymbolicLink()).toBe(true)
    expect(readlinkSync(h.path('links/abs'))).toBe('/nonexistent/sfd-absolute-link-target')
    expect(readFileSync(h.path('links/real.txt'), 'utf8')).toBe('real')
    // No regular file on the host holds the content of the file outside.
    const holders = allEntries(h.home).filter((path) => {
      const full = join(h.home, path)
      return lstatSync(full).isFile() && readFileSync(full, 'utf8') === outside
    })
    expect(holders).toEqual([])

    const again = await runAction(inputs, { cwd: ws })
    expect(again.code, logOf(again)).toBe(0)
    expect(results(again)[0]).toMatchObject({ status: 'success', uploaded: 0, skipped: 3 })
    expect(readlinkSync(h.path('links/link.txt'))).toBe('../outside.txt')

    // Followed (the default), a link to an existing file is sent as that file's content.
    rmSync(join(ws, 'site/abs'))
    const followed = await runAction(
      fleetInputs(fleet, [h], { 'working-directory': 'site', target: 'followed' }),
      { cwd: ws }
    )
    expect(followed.code, logOf(followed)).toBe(0)
    expect(lstatSync(h.path('followed/link.txt')).isFile()).toBe(true)
    expect(readFileSync(h.path('followed/link.txt'), 'utf8')).toBe(outside)
  })
})
