// `delete: true` against real OpenSSH servers: the target ends up exactly the build, what `keep`
// names stays, the action's own working files stay, a link is removed as a link (and a file of
// the build reached through one is not lost), a host where a file failed keeps everything,
// `max-delete` refuses before anything is written, deletion runs in the host's shell where it has
// one and over SFTP where it has not, and twenty thousand files go in one run.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { workspace } from '../helpers/workspace.js'
import {
  pathsOfKind,
  plant,
  shapeOf,
  snapshot,
  snapshotWithRoot,
  workingNames,
  type Planted
} from '../harness/host-tree.js'
import {
  fleetInputs,
  hostLogLines,
  logOf,
  results,
  runAction,
  sha256,
  treeDigest,
  type ActionRun
} from '../harness/run-action.js'
import { commandsWithout, logMark, useFleet, type TestHost } from '../harness/sshd.js'

// Hosts 0–2 and 4 have a shell; host 3 is SFTP only.
const fleet = useFleet({ count: 5, host: (index) => (index === 3 ? { sftpOnly: true } : {}) })

const host = (index: number): TestHost => fleet.host(index)

/** What treeDigest should find where `files` landed. */
function digestsOf(files: Record<string, string | Buffer>): Record<string, string> {
  return Object.fromEntries(Object.entries(files).map(([path, content]) => [path, sha256(content)]))
}

/** Deploys `files` to `target` on `hosts` with delete on (and `extra` inputs). */
function deploy(
  hosts: TestHost[],
  target: string,
  files: Record<string, string | Buffer>,
  extra: Record<string, string> = {}
): Promise<ActionRun> {
  return runAction(fleetInputs(fleet, hosts, { target, delete: 'true', ...extra }), {
    cwd: workspace(files)
  })
}

/** The lines of a run's log in one host's group (the whole log where `label` is undefined). */
function logLines(run: ActionRun, label?: string): string[] {
  return label === undefined ? logOf(run).split('\n') : hostLogLines(run, label)
}

/** The line of a run's log (of one host's group) that says what was deleted, if any. */
function deletedLine(run: ActionRun, label?: string): string | undefined {
  return logLines(run, label).find((line) => /^deleted \d+ file\(s\)/.test(line))
}

describe('delete: the target becomes exactly the build', () => {
  test('extraneous files, nested and hidden, and the directories they leave empty are removed; results and the summary count them; a redeploy deletes nothing', async () => {
    const h = host(0)
    const target = 'exact'
    plant(h.path(target), {
      'index.html': 'old index', // in the build, changed
      'css/site.css': 'body {}', // in the build, unchanged
      'css/old.css': 'old css', // extraneous beside a file that stays
      'js/legacy.js': 'legacy', // extraneous in a directory the build also fills
      'old/c.txt': 'c',
      'old/deep/b.txt': 'b',
      'old/deep/nested/a.txt': 'a',
      '.hidden-old': 'hidden',
      empty: { dir: true },
      'empty2/sub': { dir: true }
    })
    const files: Record<string, string> = {
      'index.html': 'new index',
      'css/site.css': 'body {}',
      'js/app.js': 'app()',
      'img/logo.svg': '<svg/>'
    }
    // Enough small files for the hashing shell to log in first and prefetch digests.
    for (let i = 0; i < 16; i += 1) files[`pages/p${i}.html`] = `page ${i}`
    const run = await deploy([h], target, files)
    expect(run.code, logOf(run)).toBe(0)

    expect(treeDigest(h.path(target))).toEqual(digestsOf(files))
    expect(pathsOfKind(snapshot(h.path(target)), 'directory')).toEqual([
      'css',
      'img',
      'js',
      'pages'
    ])
    expect(workingNames(h.home)).toEqual([])
    const [result] = results(run)
    expect(result, logOf(run)).toMatchObject({
      status: 'success',
      uploaded: 19,
      skipped: 1,
      deleted: 6
    })
    const line = deletedLine(run)
    expect(line, logOf(run)).toMatch(/^deleted 6 file\(s\) and 6 directories\b/)
    for (const name of [
      'css/old.css',
      'js/legacy.js',
      'old/c.txt',
      'old/deep/b.txt',
      'old/deep/nested/a.txt',
      '.hidden-old'
    ])
      expect(line).toContain(name)
    expect(logOf(run)).toContain('6 deleted')
    // The summary has a Deleted column.
    expect(run.summary).toMatch(/\| Skipped \| Deleted \| Bytes \|/)
    expect(run.summary).toContain('| ✅ success | 20 | 19 | 1 | 6 |')

    const again = await deploy([h], target, files)
    expect(again.code, logOf(again)).toBe(0)
    expect(results(again)[0]).toMatchObject({
      status: 'success',
      uploaded: 0,
      skipped: 20,
      deleted: 0
    })
    expect(deletedLine(again)).toBeUndefined()
    expect(treeDigest(h.path(target))).toEqual(digestsOf(files))
  })

  test('without delete nothing extraneous is touched', async () => {
    const h = host(0)
    const target = 'no-delete'
    plant(h.path(target), { 'stale.txt': 'stale', 'old/a.txt': 'a', empty: { dir: true } })
    const run = await runAction(fleetInputs(fleet, [h], { target }), {
      cwd: workspace({ 'index.html': 'index' })
    })
    expect(run.code, logOf(run)).toBe(0)
    expect(results(run)[0]).toMatchObject({ status: 'success', deleted: 0 })
    expect(pathsOfKind(snapshot(h.path(target)), 'file')).toEqual([
      'index.html',
      'old/a.txt',
      'stale.txt'
    ])
    expect(pathsOfKind(snapshot(h.path(target)), 'directory')).toEqual(['empty', 'old'])
    // No Deleted column when delete is off.
    expect(run.summary).not.toContain('Deleted')
  })
})

describe('delete: what it never touches', () => {
  test('a new target: the deploy makes it and deletes nothing', async () => {
    const h = host(0)
    const files: Record<string, string> = {}
    for (let i = 0; i < 20; i += 1) files[`d${i % 3}/f${i}.txt`] = `file ${i}`
    const run = await deploy([h], 'brand-new', files)
    expect(run.code, logOf(run)).toBe(0)
    expect(results(run)[0]).toMatchObject({ status: 'success', uploaded: 20, deleted: 0 })
    expect(treeDigest(h.path('brand-new'))).toEqual(digestsOf(files))
    expect(deletedLine(run)).toBeUndefined()
  })

  test("the action's working names (another run's temporary files, staging directories, preflight probes) are left alone, and the directories that hold them stay", async () => {
    const h = host(4)
    const target = 'working-names'
    const working: Record<string, string> = {
      '.index.html.0123456789ab.sfd-tmp': 'a partial upload of another run',
      'old/.a.txt.abcdef012345.sfd-tmp': 'another partial upload',
      '.sfd-stage-1a2b3c/d/f.txt': 'staged by another run',
      '.sfd-preflight-1a2b3c': ''
    }
    plant(h.path(target), { ...working, 'old/a.txt': 'a', 'stale.txt': 'stale' })
    const files = { 'index.html': 'index' }
    const run = await deploy([h], target, files)
    expect(run.code, logOf(run)).toBe(0)
    expect(results(run)[0], logOf(run)).toMatchObject({ status: 'success', deleted: 2 })
    expect(treeDigest(h.path(target))).toEqual(digestsOf({ ...files, ...working }))
  })
})

describe('keep', () => {
  test('uploads/**, .env and a directory pattern keep those files and their directories; everything else extraneous goes', async () => {
    const h = host(1)
    const target = 'keep'
    const kept: Record<string, string> = {
      'uploads/avatar.png': 'avatar',
      'uploads/2024/05/photo.jpg': 'photo',
      '.env': 'SECRET=1',
      'cache/a.bin': 'cache a',
      'cache/sub/b.bin': 'cache b'
    }
    plant(h.path(target), {
      ...kept,
      'uploads/empty': { dir: true },
      'cache/emptysub': { dir: true },
      // Look-alikes of the kept names: not kept.
      'cache-old.txt': 'not the cache',
      'uploads-old/x.txt': 'not uploads',
      '.env.bak': 'not .env',
      'old.txt': 'old',
      'stale/x.txt': 'stale'
    })
    const files = { 'index.html': 'index' }
    const run = await deploy([h], target, files, { keep: 'uploads/**\n.env\ncache' })
    expect(run.code, logOf(run)).toBe(0)
    expect(results(run)[0], logOf(run)).toMatchObject({ status: 'success', deleted: 5 })
    expect(treeDigest(h.path(target))).toEqual(digestsOf({ ...files, ...kept }))
    expect(pathsOfKind(snapshot(h.path(target)), 'directory')).toEqual([
      'cache',
      'cache/emptysub',
      'cache/sub',
      'uploads',
      'uploads/2024',
      'uploads/2024/05',
      'uploads/empty'
    ])
  })

  test('uploads/** keeps uploads where it is a link to shared storage, as it keeps it where it is a directory', async () => {
    const h = host(1)
    const target = 'keep-shared'
    plant(h.home, { 'shared/uploads/photo.jpg': 'photo' })
    plant(h.path(target), { uploads: { link: '../shared/uploads' }, 'stale.txt': 'stale' })
    const files = { 'index.html': 'index' }
    const run = await deploy([h], target, files, { keep: 'uploads/**' })
    expect(run.code, logOf(run)).toBe(0)
    expect(shapeOf(h.path(target)), logOf(run)).toEqual({
      'index.html': `file ${sha256('index')}`,
      uploads: 'link -> ../shared/uploads'
    })
    expect(results(run)[0]).toMatchObject({ status: 'success', deleted: 1 })
  })

  test.each([
    { pattern: '/etc/**', why: 'absolute' },
    { pattern: '../outside/**', why: '..' },
    { pattern: 'uploads/../../x', why: '.. inside' }
  ])(
    'a keep pattern that leaves the target ($why) is an input error naming keep, before any host is touched',
    async ({ pattern }) => {
      const h = host(1)
      const target = 'keep-input'
      plant(h.path(target), { 'stale.txt': 'stale' })
      const before = snapshotWithRoot(h.path(target))
      const mark = logMark(h)
      const run = await deploy([h], target, { 'index.html': 'index' }, { keep: pattern })
      expect(run.code, logOf(run)).toBe(1)
      expect(run.stdout).toContain("Input 'keep'")
      expect(run.stdout).toContain(pattern)
      expect(snapshotWithRoot(h.path(target))).toEqual(before)
      expect(mark()).not.toMatch(/Accepted publickey/)
    }
  )
})

describe('symbolic links in the target', () => {
  test('links that lead out of the target (to a directory, to a file) and a dangling one are removed as links; what they point to is untouched', async () => {
    const h = host(2)
    const target = 'links'
    plant(h.home, {
      'outside-dir/precious.txt': 'precious',
      'outside-dir/deeper/more.txt': 'more',
      'outside-file.txt': 'outside content'
    })
    plant(h.path(target), {
      'link-dir': { link: h.path('outside-dir') },
      'sub/link-file': { link: '../../outside-file.txt' },
      'sub/link-dir-relative': { link: '../../outside-dir' },
      dangling: { link: 'nowhere' }
    })
    const outsideDir = snapshotWithRoot(h.path('outside-dir'))
    const outsideFile = snapshot(h.home)['outside-file.txt']
    const files = { 'index.html': 'index' }
    const run = await deploy([h], target, files)
    expect(run.code, logOf(run)).toBe(0)
    expect(results(run)[0], logOf(run)).toMatchObject({ status: 'success', deleted: 4 })
    // The target holds the build and nothing else: the links are gone, and `sub` with them.
    expect(shapeOf(h.path(target))).toEqual({ 'index.html': `file ${sha256('index')}` })
    // What they pointed to: there, with its content and its times.
    expect(snapshotWithRoot(h.path('outside-dir'))).toEqual(outsideDir)
    expect(snapshot(h.home)['outside-file.txt']).toEqual(outsideFile)
  })
})

describe('files the host reaches through links', () => {
  test('a file of the build that is, on the host, a link to a file the build does not have: after the deploy the file still reads as built', async () => {
    const h = host(2)
    const target = 'link-to-extraneous'
    plant(h.path(target), {
      'index.v2.html': 'index',
      'index.html': { link: 'index.v2.html' }
    })
    const run = await deploy([h], target, { 'index.html': 'index' })
    expect(run.code, logOf(run)).toBe(0)
    expect(existsSync(h.path(`${target}/index.html`)), logOf(run)).toBe(true)
    expect(readFileSync(h.path(`${target}/index.html`), 'utf8')).toBe('index')
  })

  test('files of the build that are, on the host, in a directory reached through a link inside the target: after the deploy they are still there', async () => {
    const h = host(2)
    const target = 'dir-link'
    plant(h.path(target), {
      'static/app.js': 'app()',
      assets: { link: 'static' }
    })
    const run = await deploy([h], target, { 'assets/app.js': 'app()' })
    // Refusing the link (as a deploy that had to send the file would) is fine; a success that
    // leaves the file gone is not.
    if (run.code === 0) {
      expect(existsSync(h.path(`${target}/assets/app.js`)), logOf(run)).toBe(true)
      expect(readFileSync(h.path(`${target}/assets/app.js`), 'utf8')).toBe('app()')
    } else expect(results(run)[0]?.error).toContain('symbolic link')
  })
})

describe('nothing is deleted where anything failed', () => {
  test('a host where a file cannot be published (a directory in the way) keeps every extraneous file; a healthy host in the same run gets its deletion', async () => {
    const [blocked, healthy] = [host(1), host(2)]
    const target = 'after-failure'
    const extraneous: Record<string, Planted> = {
      'stale.txt': 'stale',
      'old/stale2.txt': 'stale 2',
      'old/deeper/stale3.txt': 'stale 3',
      empty: { dir: true }
    }
    plant(blocked.path(target), { ...extraneous, 'blocked.txt/inner.txt': 'in the way' })
    plant(healthy.path(target), extraneous)
    const files = { 'blocked.txt': 'a file', 'ok.txt': 'ok' }
    const run = await deploy([blocked, healthy], target, files, { retries: '0' })
    expect(run.code, logOf(run)).toBe(1)
    const [failed, succeeded] = results(run)
    expect(failed, logOf(run)).toMatchObject({ status: 'failed', deleted: 0 })
    expect(failed?.error).toContain('a directory is in the way')
    const left = snapshot(blocked.path(target))
    for (const [path, what] of Object.entries(extraneous))
      expect(left[path], path).toMatchObject(
        typeof what === 'string' ? { kind: 'file', sha256: sha256(what) } : { kind: 'directory' }
      )
    expect(left['blocked.txt/inner.txt']).toMatchObject({ sha256: sha256('in the way') })
    expect(deletedLine(run, failed?.host)).toBeUndefined()
    expect(logLines(run, failed?.host).join('\n')).toContain('a directory is in the way')

    expect(succeeded, logOf(run)).toMatchObject({ status: 'success', deleted: 3 })
    expect(deletedLine(run, succeeded?.host)).toMatch(/^deleted 3 file\(s\) and 3 directories\b/)
    expect(treeDigest(healthy.path(target))).toEqual(digestsOf(files))
    expect(pathsOfKind(snapshot(healthy.path(target)), 'directory')).toEqual([])
    for (const h of [blocked, healthy]) expect(workingNames(h.home)).toEqual([])
  })
})

describe('max-delete', () => {
  test('more to delete than max-delete: the host fails with the count, and its target is exactly as it was; at the limit the deploy proceeds', async () => {
    const h = host(0)
    const target = 'limit'
    plant(h.path(target), {
      'index.html': 'old index',
      'same.txt': 'same',
      'stale1.txt': '1',
      'stale2.txt': '2',
      'old/stale3.txt': '3',
      'old/deeper/stale4.txt': '4',
      'other/stale5.txt': '5',
      empty: { dir: true }
    })
    // Enough small files for the hashing shell to log in first, as a tar stream would.
    const files: Record<string, string> = {
      'index.html': 'new index',
      'same.txt': 'same',
      'new.txt': 'new'
    }
    for (let i = 0; i < 16; i += 1) files[`pages/p${i}.html`] = `page ${i}`
    const before = snapshotWithRoot(h.path(target))
    const refused = await deploy([h], target, files, { 'max-delete': '4' })
    expect(refused.code, logOf(refused)).toBe(1)
    const [result] = results(refused)
    expect(result, logOf(refused)).toMatchObject({
      status: 'failed',
      errorClass: 'delete-limit',
      attempts: 1,
      uploaded: 0,
      deleted: 0,
      bytes: 0
    })
    expect(result?.error).toMatch(/\b5 file\(s\)/)
    expect(result?.error).toContain('max-delete (4)')
    // Every file, link and directory below the target, with its content and mtime: not even a
    // preflight probe was made and removed. The target's own mtime moved: the deploy lock was
    // taken in it (before anything else) and removed.
    const after = snapshotWithRoot(h.path(target))
    expect({ ...after, '.': { ...after['.'], mtimeMs: 0 } }).toEqual({
      ...before,
      '.': { ...before['.'], mtimeMs: 0 }
    })
    expect(existsSync(h.path(`${target}/.deploy.lock`))).toBe(false)
    expect(workingNames(h.home)).toEqual([])
    expect(logOf(refused)).not.toContain('preflight:')

    const allowed = await deploy([h], target, files, { 'max-delete': '5' })
    expect(allowed.code, logOf(allowed)).toBe(0)
    expect(results(allowed)[0]).toMatchObject({ status: 'success', deleted: 5 })
    expect(treeDigest(h.path(target))).toEqual(digestsOf(files))

    // Nothing left to delete: max-delete 0 is no obstacle.
    const none = await deploy([h], target, files, { 'max-delete': '0' })
    expect(none.code, logOf(none)).toBe(0)
    expect(results(none)[0]).toMatchObject({ status: 'success', deleted: 0, uploaded: 0 })
  })

  test('refused by max-delete with lock: false and a script-before: the script never runs, and the target, its own mtime included, is exactly as it was', async () => {
    const h = host(1)
    const target = 'limit-unlocked'
    plant(h.path(target), {
      'index.html': 'old index',
      'stale1.txt': '1',
      'stale2.txt': '2',
      'old/stale3.txt': '3'
    })
    const marker = h.path('limit-unlocked-script-ran')
    const before = snapshotWithRoot(h.path(target))
    const refused = await deploy(
      [h],
      target,
      { 'index.html': 'new index' },
      {
        'max-delete': '2',
        lock: 'false',
        'script-before': `touch ${JSON.stringify(marker)}`
      }
    )
    expect(refused.code, logOf(refused)).toBe(1)
    const [result] = results(refused)
    expect(result, logOf(refused)).toMatchObject({
      status: 'failed',
      errorClass: 'delete-limit',
      uploaded: 0,
      deleted: 0
    })
    expect(result?.error).toMatch(/\b3 file\(s\)/)
    expect(snapshotWithRoot(h.path(target))).toEqual(before)
    expect(existsSync(marker)).toBe(false)
    expect(workingNames(h.home)).toEqual([])
  })
})

describe('where the deletion runs', () => {
  test("a host with a shell deletes in it: with the SFTP server's remove and rmdir banned, the deletion still happens", async () => {
    const h = host(2)
    const target = 'in-shell'
    plant(h.path(target), {
      'index.html': 'old',
      'stale.txt': 'stale',
      "it's $(touch PWNED) `id`.txt": 'odd name',
      '-rf': 'a name like an option',
      'old/new\nline.txt': 'newline',
      empty: { dir: true }
    })
    const files = { 'index.html': 'new' }
    h.setSftpServerFlags(['-P', 'remove,rmdir'])
    let run
    try {
      // No preflight: its probe is removed over SFTP.
      run = await deploy([h], target, files, { retries: '0', preflight: 'false' })
    } finally {
      h.setSftpServerFlags([])
    }
    expect(run.code, logOf(run)).toBe(0)
    expect(results(run)[0], logOf(run)).toMatchObject({ status: 'success', deleted: 4 })
    expect(treeDigest(h.path(target))).toEqual(digestsOf(files))
    expect(pathsOfKind(snapshot(h.path(target)), 'directory')).toEqual([])
    expect(Object.keys(snapshot(h.home)).filter((path) => path.includes('PWNED'))).toEqual([])
  })

  test('an SFTP-only host deletes over SFTP: files, a link (as a link) and the emptied directories', async () => {
    const h = host(3)
    const target = 'sftp-only'
    plant(h.home, { 'sftp-outside/keep-me.txt': 'outside' })
    plant(h.path(target), {
      'index.html': 'old',
      'stale.txt': 'stale',
      'old/a.txt': 'a',
      'old/deep/b.txt': 'b',
      'old/link-out': { link: '../../sftp-outside' },
      empty: { dir: true }
    })
    const outside = snapshotWithRoot(h.path('sftp-outside'))
    const files = { 'index.html': 'new', 'css/site.css': 'body {}' }
    const run = await deploy([h], target, files)
    expect(run.code, logOf(run)).toBe(0)
    expect(results(run)[0], logOf(run)).toMatchObject({ status: 'success', deleted: 4 })
    expect(deletedLine(run), logOf(run)).toMatch(/^deleted 4 file\(s\) and 3 directories\b/)
    expect(treeDigest(h.path(target))).toEqual(digestsOf(files))
    expect(pathsOfKind(snapshot(h.path(target)), 'directory')).toEqual(['css'])
    expect(snapshotWithRoot(h.path('sftp-outside'))).toEqual(outside)
    expect(workingNames(h.home)).toEqual([])
  })

  // An account whose forced command refuses every command but lets SFTP through; a shell whose
  // PATH has no rm or rmdir. Either way SFTP can delete, as it does on an SFTP-only host.
  test.each([
    {
      hostHas:
        'a forced command that refuses every command (verify: none, so no hashing shell either)',
      target: 'refusing',
      verify: 'none',
      setUp: (h: TestHost) =>
        h.setForcedCommand("echo 'This account can only use SFTP' >&2; exit 1"),
      tearDown: (h: TestHost) => h.setForcedCommand(undefined)
    },
    {
      hostHas: 'a shell without rm or rmdir',
      target: 'no-rm',
      verify: 'sha256',
      setUp: (h: TestHost) => h.setCommandPath(commandsWithout('rm', 'rmdir')),
      tearDown: (h: TestHost) => h.setCommandPath(undefined)
    }
  ])(
    'a host with $hostHas still gets its deletion, over SFTP',
    async ({ target, verify, setUp, tearDown }) => {
      const h = host(0)
      plant(h.path(target), { 'stale.txt': 'stale', 'old/a.txt': 'a', empty: { dir: true } })
      const files = { 'index.html': 'index' }
      setUp(h)
      let run
      try {
        run = await deploy([h], target, files, { retries: '0', verify })
      } finally {
        tearDown(h)
      }
      expect(run.code, logOf(run)).toBe(0)
      expect(results(run)[0], logOf(run)).toMatchObject({ status: 'success', deleted: 2 })
      expect(treeDigest(h.path(target))).toEqual(digestsOf(files))
      expect(pathsOfKind(snapshot(h.path(target)), 'directory')).toEqual([])
    }
  )
})

describe('at scale', () => {
  test.each([
    { hostHas: 'a shell', index: 4 },
    { hostHas: 'SFTP only', index: 3 }
  ])(
    '20,000 extraneous small files in 100 directories ($hostHas) are deleted in one run, without a session per file',
    async ({ hostHas, index }) => {
      const h = host(index)
      const target = 'scale'
      const count = 20_000
      const dirs = 100
      for (let d = 0; d < dirs; d += 1)
        mkdirSync(h.path(join(target, `old/d${d}`)), { recursive: true })
      for (let i = 0; i < count; i += 1)
        writeFileSync(h.path(join(target, `old/d${i % dirs}/stale-${i}.txt`)), `stale ${i}\n`)
      const files = { 'index.html': 'index', 'css/site.css': 'body {}' }
      const inputs = fleetInputs(fleet, [h], { target, delete: 'true' })
      const cwd = workspace(files)
      const options = { cwd, timeoutMs: 240_000 }

      // A dry run lists the target as the deploy does, and deletes nothing: its time, less that
      // of a dry run with nothing to delete, is the listing's.
      const dry = await runAction({ ...inputs, 'dry-run': 'true' }, options)
      expect(dry.code, logOf(dry)).toBe(0)
      expect(results(dry)[0]).toMatchObject({
        status: 'planned',
        planned: { upload: 2, unchanged: 0, delete: count }
      })

      const mark = logMark(h)
      const run = await runAction(inputs, options)
      expect(run.code, logOf(run)).toBe(0)
      expect(results(run)[0], logOf(run)).toMatchObject({ status: 'success', deleted: count })
      expect(treeDigest(h.path(target))).toEqual(digestsOf(files))
      expect(pathsOfKind(snapshot(h.path(target)), 'directory')).toEqual(['css'])
      // 20 names in the log, and every other one in the debug log.
      const line = deletedLine(run) ?? ''
      const shown = new RegExp(
        `^deleted ${count} file\\(s\\) and ${dirs + 1} directories [^:]*: (.*), and ${count - 20} more\\b`
      ).exec(line)
      expect(shown, line.slice(0, 300)).not.toBeNull()
      const named = new Set(shown?.[1]?.split(', '))
      expect(named.size).toBe(20)
      for (const debug of run.stdout.split('\n'))
        if (debug.startsWith('::debug::deleted '))
          named.add(debug.slice('::debug::deleted '.length))
      expect(named.size).toBe(count)
      // Batched: a handful of sessions (SFTP, the hashing shells, one removal script), not one
      // per file or per batch of files.
      const sessions = mark().match(/Starting session/g)?.length ?? 0
      expect(sessions).toBeLessThanOrEqual(8)

      // The same deploy, and the same dry run, with nothing to delete, for comparison.
      const baseline = await runAction(inputs, options)
      expect(baseline.code, logOf(baseline)).toBe(0)
      expect(results(baseline)[0]).toMatchObject({ deleted: 0 })
      const dryBaseline = await runAction({ ...inputs, 'dry-run': 'true' }, options)
      expect(dryBaseline.code, logOf(dryBaseline)).toBe(0)
      const listing = dry.durationMs - dryBaseline.durationMs
      const listingAndDeleting = run.durationMs - baseline.durationMs
      console.log(
        `delete at scale (${hostHas}): ${count} files in ${dirs} directories deleted by a run of ${run.durationMs} ms (the same deploy with nothing to delete: ${baseline.durationMs} ms, so listing and deleting took about ${listingAndDeleting} ms); dry run ${dry.durationMs} ms against ${dryBaseline.durationMs} ms (listing about ${listing} ms, so deleting about ${listingAndDeleting - listing} ms); ${sessions} SSH session(s) in the deploy`
      )
    },
    300_000
  )
})
