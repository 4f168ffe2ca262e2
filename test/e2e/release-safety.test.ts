// What releases promise a reader and a fleet, against real OpenSSH servers as the runner runs
// the action: a reader of `current` never sees two versions at once (where an in-place deploy
// lets it), a release is never overwritten, shared paths are linked (and a missing one refused),
// an SFTP-only host makes releases too, a cut connection continues the same release before the
// switch, two runs never interleave their releases, and `switch: together` holds across threads.

import {
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  statSync
} from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { pseudoRandomBytes, workspace } from '../helpers/workspace.js'
import { plant, snapshot } from '../harness/host-tree.js'
import {
  fleetInputs,
  hostLogLines,
  logOf,
  proxiedInputs,
  results,
  runAction,
  sha256,
  treeDigest,
  type ActionRun
} from '../harness/run-action.js'
import { currentOf, deployRelease, releasesOn } from '../harness/releases.js'
import { useFleet, type TestHost } from '../harness/sshd.js'
import { startProxy } from '../harness/tcp-proxy.js'

// Hosts 0-2 run OpenSSH with a shell; host 3 is SFTP-only (internal-sftp, no commands).
const fleet = useFleet({ count: 4, host: (index) => (index === 3 ? { sftpOnly: true } : {}) })
const host = (index: number): TestHost => fleet.host(index)
const label = (h: TestHost): string => `${fleet.user}@${h.entry}`
const LOCK = '.deploy.lock'

const deploy = (
  hosts: readonly TestHost[],
  files: Record<string, string | Buffer>,
  extra: Record<string, string>
): Promise<ActionRun> => deployRelease(fleet, hosts, files, extra)

function digestOf(files: Record<string, string | Buffer>): Record<string, string> {
  return Object.fromEntries(Object.entries(files).map(([path, content]) => [path, sha256(content)]))
}

/** A digest map as text, whatever order its keys came in. */
function canonical(digest: Record<string, string>): string {
  return JSON.stringify(Object.entries(digest).sort(([a], [b]) => (a < b ? -1 : 1)))
}

const pause = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms))
const yieldNow = (): Promise<void> => new Promise((done) => setImmediate(done))

// --- A reader of the site, as a web server serving it ------------------------------------------

const SITE_FILES = 300

/** The site at `version`: 300 files in 10 directories, each holding the version. */
function site(version: string): Record<string, string> {
  const files: Record<string, string> = {}
  for (let i = 0; i < SITE_FILES; i += 1) files[`d${i % 10}/f${i}.txt`] = version
  return files
}

/** What one read of the whole site found: how many files, and which versions they held. */
interface SiteSnapshot {
  readonly files: number
  readonly versions: readonly string[]
}

const mixed = (snap: SiteSnapshot): boolean => snap.versions.length > 1

/**
 * Reads every file below `dir` (the action's working names and its lock left out: a web
 * server would not serve them). Undefined where the directory is not there (yet).
 */
function readSite(dir: string): SiteSnapshot | undefined {
  const versions = new Set<string>()
  let files = 0
  const walk = (current: string): void => {
    for (const name of readdirSync(current)) {
      if (name.includes('.sfd-') || name === LOCK) continue
      const path = join(current, name)
      let content: string
      try {
        if (statSync(path).isDirectory()) {
          walk(path)
          continue
        }
        content = readFileSync(path, 'utf8')
      } catch (error) {
        // A working name that went between readdir and read.
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue
        throw error
      }
      files += 1
      versions.add(content)
    }
  }
  try {
    walk(dir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
  return { files, versions: [...versions].sort() }
}

/** A reader that resolves `<root>/current` once per snapshot ($realpath_root), then reads it. */
function readCurrent(root: string): SiteSnapshot | undefined {
  let resolved: string
  try {
    resolved = realpathSync(join(root, 'current'))
  } catch {
    return undefined
  }
  return readSite(resolved)
}

/**
 * Takes snapshots with `read` for as long as `running` runs (at most `limitMs`), yielding
 * between them so that the run's events are seen; then a few more after it.
 */
async function pollDuring<T>(
  running: Promise<T>,
  read: () => SiteSnapshot | undefined,
  limitMs = 30_000
): Promise<{ outcome: T; during: SiteSnapshot[]; after: SiteSnapshot[] }> {
  const state = { finished: false }
  const watched = running.finally(() => {
    state.finished = true
  })
  const during: SiteSnapshot[] = []
  const deadline = Date.now() + limitMs
  while (!state.finished && Date.now() < deadline) {
    const snap = read()
    if (snap !== undefined) during.push(snap)
    await yieldNow()
  }
  const outcome = await watched
  const after: SiteSnapshot[] = []
  for (let i = 0; i < 5; i += 1) {
    const snap = read()
    if (snap !== undefined) after.push(snap)
  }
  return { outcome, during, after }
}

describe('release safety', () => {
  test('a reader of current never sees two versions at once; an in-place deploy lets it', async () => {
    const h = host(0)
    const root = 'safety/atomic'
    const first = await deploy([h], site('v1'), { target: root, 'release-name': 'r1' })
    expect(first.code, logOf(first)).toBe(0)

    const { outcome, during, after } = await pollDuring(
      deploy([h], site('v2'), { target: root, 'release-name': 'r2' }),
      () => readCurrent(h.path(root))
    )
    expect(outcome.code, logOf(outcome)).toBe(0)
    expect(results(outcome)[0]).toMatchObject({
      status: 'success',
      switched: true,
      uploaded: SITE_FILES
    })
    expect(during.length).toBeGreaterThan(0)
    // Every snapshot is one whole version: all 300 files, one content.
    const broken = during.filter((snap) => mixed(snap) || snap.files !== SITE_FILES)
    expect(broken.slice(0, 3)).toEqual([])
    for (const snap of during) expect(['v1', 'v2']).toContain(snap.versions[0])
    expect(after.length).toBe(5)
    for (const snap of after) expect(snap).toEqual({ files: SITE_FILES, versions: ['v2'] })

    // The same reader of an in-place deploy (no releases): files are renamed into place one by
    // one, so a snapshot taken while that happens mixes versions. Up to 5 redeploys to catch it.
    const inPlace = 'safety/in-place'
    const seed = await runAction(fleetInputs(fleet, [h], { target: inPlace }), {
      cwd: workspace(site('v1'))
    })
    expect(seed.code, logOf(seed)).toBe(0)
    let mixedSeen: SiteSnapshot | undefined
    let tries = 0
    for (let version = 2; version <= 6 && mixedSeen === undefined; version += 1) {
      tries += 1
      const polled = await pollDuring(
        runAction(fleetInputs(fleet, [h], { target: inPlace }), {
          cwd: workspace(site(`v${version}`))
        }),
        () => readSite(h.path(inPlace))
      )
      expect(polled.outcome.code, logOf(polled.outcome)).toBe(0)
      mixedSeen = polled.during.find(mixed)
    }
    expect(mixedSeen, `no mixed snapshot in ${tries} in-place deploys`).toBeDefined()
    expect(mixedSeen?.versions.length).toBe(2)
  })

  test('release-name collision: the host fails as release, nothing written, no lock left', async () => {
    const h = host(1)
    const root = 'safety/collide'
    const first = await deploy([h], { 'index.html': 'one' }, { target: root, 'release-name': 'r1' })
    expect(first.code, logOf(first)).toBe(0)
    // A release directory someone made by hand (not in releases.log) counts too.
    plant(h.path(root), { 'releases/manual/index.html': 'by hand' })

    for (const name of ['r1', 'manual']) {
      const before = snapshot(h.path(root))
      // Retries allowed: the refusal is final, not retried.
      const again = await deploy(
        [h],
        { 'index.html': `again as ${name}` },
        { target: root, 'release-name': name, retries: '2' }
      )
      expect(again.code).toBe(1)
      const [refused] = results(again)
      expect(refused).toMatchObject({ status: 'failed', errorClass: 'release', attempts: 1 })
      expect(refused?.error).toMatch(
        new RegExp(`release ${name} is on the host already .*a release is never overwritten`)
      )
      expect(snapshot(h.path(root))).toEqual(before)
      expect(existsSync(h.path(`${root}/${LOCK}`))).toBe(false)
      expect(currentOf(h, root)).toBe('releases/r1')
    }
  })

  test('release-name collision on one host of two: that host fails, the other is held', async () => {
    const [h, other] = [host(1), host(2)]
    const root = 'safety/collide-two'
    const first = await deploy([h], { 'index.html': 'one' }, { target: root, 'release-name': 'r1' })
    expect(first.code, logOf(first)).toBe(0)
    const before = snapshot(h.path(root))
    const run = await deploy(
      [h, other],
      { 'index.html': 'two' },
      { target: root, 'release-name': 'r1' }
    )
    expect(run.code).toBe(1)
    const [refused, held] = results(run)
    expect(refused).toMatchObject({ status: 'failed', errorClass: 'release' })
    expect(held).toMatchObject({ status: 'held', switched: false, release: 'r1' })
    expect(snapshot(h.path(root))).toEqual(before)
    expect(existsSync(h.path(`${root}/${LOCK}`))).toBe(false)
    // The held host's release went again; it had no current before, and has none now.
    expect(existsSync(other.path(`${root}/current`))).toBe(false)
    expect(releasesOn(other, root)).toEqual([])
    expect(existsSync(other.path(`${root}/${LOCK}`))).toBe(false)
  })

  test('shared-paths: a shared file and directory linked into the release; a missing shared file is refused', async () => {
    const h = host(2)
    const root = 'safety/shared'
    plant(h.path(root), { 'shared/.env': 'SECRET=on-the-host\n' })
    const build = {
      '.env': 'SECRET=from-the-build\n',
      'index.html': 'site',
      'storage/cache.txt': 'from the build',
      'storage/sub/more.txt': 'also from the build'
    }
    const run = await deploy([h], build, {
      target: root,
      'release-name': 's1',
      'shared-paths': '.env\nstorage/'
    })
    expect(run.code, logOf(run)).toBe(0)
    expect(results(run)[0]).toMatchObject({ status: 'success', switched: true, uploaded: 1 })
    const lines = hostLogLines(run, label(h)).join('\n')
    expect(lines).toContain(
      '3 file(s) of this deploy are under shared-paths and are not sent: the release links the shared ones (.env, storage/cache.txt, storage/sub/more.txt)'
    )
    expect(lines).toContain('linked shared path(s) .env, storage')

    const env = h.path(`${root}/current/.env`)
    expect(lstatSync(env).isSymbolicLink()).toBe(true)
    expect(realpathSync(env)).toBe(realpathSync(h.path(`${root}/shared/.env`)))
    expect(readFileSync(env, 'utf8')).toBe('SECRET=on-the-host\n')
    const storage = h.path(`${root}/current/storage`)
    expect(lstatSync(storage).isSymbolicLink()).toBe(true)
    expect(readlinkSync(storage)).toBe('../../shared/storage')
    expect(realpathSync(storage)).toBe(realpathSync(h.path(`${root}/shared/storage`)))
    expect(statSync(h.path(`${root}/shared/storage`)).isDirectory()).toBe(true)
    // The build's storage/ files are neither in the release nor in shared/.
    expect(readdirSync(h.path(`${root}/shared/storage`))).toEqual([])
    expect(treeDigest(h.path(`${root}/shared`))).toEqual({ '.env': sha256('SECRET=on-the-host\n') })
    expect(readFileSync(h.path(`${root}/current/index.html`), 'utf8')).toBe('site')

    // A second root with a release and no shared/.env: the next release with shared-paths fails.
    const bare = 'safety/shared-missing'
    const plain = await deploy([h], { 'index.html': 'one' }, { target: bare, 'release-name': 'p1' })
    expect(plain.code, logOf(plain)).toBe(0)
    const missing = await deploy([h], build, {
      target: bare,
      'release-name': 'p2',
      'shared-paths': '.env\nstorage/'
    })
    expect(missing.code).toBe(1)
    const [failed] = results(missing)
    expect(failed).toMatchObject({ status: 'failed', errorClass: 'release', switched: false })
    expect(failed?.error).toMatch(/shared file .*shared\/\.env is missing/)
    // Found before anything was sent or made.
    expect(failed).toMatchObject({ uploaded: 0, bytes: 0 })
    expect(currentOf(h, bare)).toBe('releases/p1')
    expect(releasesOn(h, bare)).toEqual(['p1'])
    expect(existsSync(h.path(`${bare}/${LOCK}`))).toBe(false)
  })

  test('an SFTP-only host: two releases and a rollback, every file of the second sent', async () => {
    const h = host(3)
    const root = 'safety/sftp-only'
    const big = pseudoRandomBytes(200 * 1024, 41)
    const v1 = { 'index.html': 'one', 'app.bin': big, 'css/site.css': 'body{}' }
    const first = await deploy([h], v1, { target: root, 'release-name': 'a' })
    expect(first.code, logOf(first)).toBe(0)
    expect(results(first)[0]).toMatchObject({
      status: 'success',
      release: 'a',
      switched: true,
      uploaded: 3
    })
    expect(lstatSync(h.path(`${root}/current`)).isSymbolicLink()).toBe(true)
    expect(currentOf(h, root)).toBe('releases/a')
    expect(treeDigest(h.path(`${root}/current/`))).toEqual(digestOf(v1))

    const v2 = { ...v1, 'index.html': 'two' }
    const second = await deploy([h], v2, { target: root, 'release-name': 'b' })
    expect(second.code, logOf(second)).toBe(0)
    // No shell: nothing can be hashed on the host to find what is unchanged, so all is sent.
    expect(results(second)[0]).toMatchObject({
      status: 'success',
      release: 'b',
      previousRelease: 'a',
      switched: true,
      uploaded: 3,
      skipped: 0
    })
    expect(hostLogLines(second, label(h)).join('\n')).toContain(
      'the host cannot hash: every file is sent, none linked from a'
    )
    expect(currentOf(h, root)).toBe('releases/b')
    expect(treeDigest(h.path(`${root}/current/`))).toEqual(digestOf(v2))
    expect(treeDigest(h.path(`${root}/releases/a`))).toEqual(digestOf(v1))
    // Copies, not links: release a is untouched by b.
    expect(statSync(h.path(`${root}/releases/b/app.bin`)).ino).not.toBe(
      statSync(h.path(`${root}/releases/a/app.bin`)).ino
    )
    expect(readFileSync(h.path(`${root}/releases.log`), 'utf8')).toMatch(/^a\t.*\nb\t.*\n$/)

    const back = await runAction(
      fleetInputs(fleet, [h], { releases: 'true', rollback: 'true', target: root, source: '' }),
      { cwd: workspace({}) }
    )
    expect(back.code, logOf(back)).toBe(0)
    expect(results(back)[0]).toMatchObject({
      status: 'success',
      release: 'a',
      previousRelease: 'b',
      switched: true
    })
    expect(currentOf(h, root)).toBe('releases/a')
    expect(treeDigest(h.path(`${root}/current/`))).toEqual(digestOf(v1))
    // The release rolled back from is removed, over SFTP (no shell for rm -rf).
    expect(releasesOn(h, root)).toEqual(['a'])
    expect(readdirSync(h.path(root)).sort()).toEqual(['current', 'releases', 'releases.log'])
  })

  test('a cut connection mid-release: the retry continues the same release, then switches', async () => {
    const h = host(0)
    const root = 'safety/cut'
    const small: Record<string, string> = {}
    for (let i = 0; i < 20; i += 1) small[`s/${i}.txt`] = `small ${i}\n`.repeat(20)
    const v1 = { ...small, 'big.bin': pseudoRandomBytes(4 * 1024 * 1024, 51) }
    const first = await deploy([h], v1, { target: root, 'release-name': 'c1' })
    expect(first.code, logOf(first)).toBe(0)

    const v2 = { ...small, 'big.bin': pseudoRandomBytes(4 * 1024 * 1024, 52) }
    const proxy = await startProxy(h, [{ cutAfter: 2_500_000 }])
    const expected = [canonical(digestOf(v1)), canonical(digestOf(v2))]
    const seen: string[] = []
    let run: ActionRun
    try {
      const state = { finished: false }
      const running = runAction(
        proxiedInputs(fleet, proxy, h, {
          releases: 'true',
          target: root,
          'release-name': 'c2',
          retries: '3',
          'retry-delay': '50ms',
          'idle-timeout': '10s'
        }),
        { cwd: workspace(v2), timeoutMs: 60_000 }
      ).finally(() => {
        state.finished = true
      })
      // Watch current throughout: always one whole release, never the one being made.
      const deadline = Date.now() + 30_000
      while (!state.finished && Date.now() < deadline) {
        const resolved = realpathSync(h.path(`${root}/current`))
        const at = expected.indexOf(canonical(treeDigest(resolved)))
        expect(at, `current (${resolved}) is neither c1 nor c2 whole`).toBeGreaterThanOrEqual(0)
        seen.push(at === 0 ? 'c1' : 'c2')
        await pause(5)
      }
      run = await running
    } finally {
      await proxy.stop()
    }
    expect(run.code, logOf(run)).toBe(0)
    expect(proxy.connections[0]?.tripped).toBe(true)
    const [result] = results(run)
    expect(result).toMatchObject({
      status: 'success',
      release: 'c2',
      previousRelease: 'c1',
      switched: true
    })
    expect(result?.attempts).toBeGreaterThanOrEqual(2)
    const lines = hostLogLines(run, `${fleet.user}@${proxy.entry}`).join('\n')
    // One release made, once: the retry went on in it.
    expect(lines.match(/release c2: made /g)?.length).toBe(1)
    expect(lines).toMatch(/attempt 1 failed/)
    expect(seen.length).toBeGreaterThan(0)
    expect(currentOf(h, root)).toBe('releases/c2')
    expect(treeDigest(h.path(`${root}/current/`))).toEqual(digestOf(v2))
    expect(treeDigest(h.path(`${root}/releases/c1`))).toEqual(digestOf(v1))
    expect(releasesOn(h, root)).toEqual(['c1', 'c2'])
    // Nothing of the action's working names or its lock is left.
    expect(
      Object.keys(snapshot(h.path(root))).filter((path) => /\.sfd-|\.tmp$/.test(path))
    ).toEqual([])
    expect(existsSync(h.path(`${root}/${LOCK}`))).toBe(false)
  })

  test('two runs against one root never interleave their releases', async () => {
    const h = host(1)
    const root = 'safety/race'
    const proxy = await startProxy(h, [{ bytesPerSecond: 2 * 1024 * 1024 }])
    try {
      const firstFiles = { 'big.bin': pseudoRandomBytes(4 * 1024 * 1024, 61), 'v.txt': 'first' }
      const firstRun = runAction(
        proxiedInputs(fleet, proxy, h, {
          releases: 'true',
          target: root,
          'release-name': 'first',
          retries: '0'
        }),
        {
          cwd: workspace(firstFiles),
          env: { GITHUB_RUN_ID: '3001', GITHUB_REPOSITORY: 'octo/site', GITHUB_WORKFLOW: 'first' }
        }
      )
      for (let tries = 0; tries < 400 && !existsSync(h.path(`${root}/${LOCK}`)); tries++)
        await pause(10)
      expect(existsSync(h.path(`${root}/${LOCK}`))).toBe(true)

      const refused = await deploy(
        [h],
        { 'v.txt': 'second' },
        { target: root, 'release-name': 'second', retries: '0' }
      )
      expect(refused.code).toBe(1)
      expect(results(refused)[0]).toMatchObject({
        status: 'failed',
        errorClass: 'locked',
        switched: false
      })
      expect(results(refused)[0]?.error).toMatch(/locked by octo\/site workflow 'first' run 3001/)
      // The refused run made no release: the first one's is the only one being made.
      expect(existsSync(h.path(`${root}/releases/second`))).toBe(false)

      const thirdFiles = { 'big.bin': pseudoRandomBytes(1024 * 1024, 62), 'v.txt': 'third' }
      const waited = await deploy([h], thirdFiles, {
        target: root,
        'release-name': 'third',
        'lock-wait': '60s'
      })
      const firstDone = await firstRun
      expect(firstDone.code, logOf(firstDone)).toBe(0)
      expect(waited.code, logOf(waited)).toBe(0)
      expect(logOf(waited)).toMatch(/waiting up to 1m.* for the lock held by octo\/site/)
      expect(results(firstDone)[0]).toMatchObject({
        status: 'success',
        release: 'first',
        previousRelease: null,
        switched: true
      })
      // The waiting run began its release once the first had switched: it came after it.
      expect(results(waited)[0]).toMatchObject({
        status: 'success',
        release: 'third',
        previousRelease: 'first',
        switched: true
      })
      expect(currentOf(h, root)).toBe('releases/third')
      expect(releasesOn(h, root)).toEqual(['first', 'third'])
      expect(treeDigest(h.path(`${root}/current/`))).toEqual(digestOf(thirdFiles))
      expect(treeDigest(h.path(`${root}/releases/first`))).toEqual(digestOf(firstFiles))
      const log = readFileSync(h.path(`${root}/releases.log`), 'utf8')
      expect(
        log
          .split('\n')
          .filter(Boolean)
          .map((line) => line.split('\t')[0])
      ).toEqual(['first', 'third'])
      expect(existsSync(h.path(`${root}/${LOCK}`))).toBe(false)
    } finally {
      await proxy.stop()
    }
  })

  test('switch together over 2 threads: a read-only host holds every other; without it all switch', async () => {
    const hosts = [host(0), host(1), host(2)]
    const root = 'safety/threads'
    const together = (version: string): Promise<ActionRun> =>
      deploy(
        hosts,
        { 'v.txt': version },
        { target: root, 'release-name': version, threads: '2', switch: 'together' }
      )

    const one = await together('one')
    expect(one.code, logOf(one)).toBe(0)
    expect(logOf(one)).toMatch(/, 2 thread\(s\)\)/)

    // Host 1 is dealt to the second thread alone; hosts 0 and 2 share the first.
    host(1).setSftpServerFlags(['-R'])
    let two: ActionRun
    try {
      two = await together('two')
    } finally {
      host(1).setSftpServerFlags([])
    }
    expect(two.code, logOf(two)).toBe(1)
    expect(logOf(two)).toMatch(/, 2 thread\(s\)\)/)
    const [a, b, c] = results(two)
    expect(a).toMatchObject({
      status: 'held',
      switched: false,
      release: 'two',
      previousRelease: 'one'
    })
    expect(b).toMatchObject({ status: 'failed', errorClass: 'permission', switched: false })
    expect(c).toMatchObject({
      status: 'held',
      switched: false,
      release: 'two',
      previousRelease: 'one'
    })
    expect(JSON.parse(two.outputs['held-hosts'] ?? '[]')).toEqual([label(host(0)), label(host(2))])
    for (const h of hosts) {
      expect(currentOf(h, root)).toBe('releases/one')
      expect(releasesOn(h, root)).toEqual(['one'])
      expect(readFileSync(h.path(`${root}/current/v.txt`), 'utf8')).toBe('one')
      expect(existsSync(h.path(`${root}/${LOCK}`))).toBe(false)
    }

    const three = await together('three')
    expect(three.code, logOf(three)).toBe(0)
    expect(logOf(three)).toMatch(/, 2 thread\(s\)\)/)
    for (const result of results(three))
      expect(result).toMatchObject({
        status: 'success',
        switched: true,
        release: 'three',
        previousRelease: 'one'
      })
    for (const h of hosts) {
      expect(currentOf(h, root)).toBe('releases/three')
      expect(readFileSync(h.path(`${root}/current/v.txt`), 'utf8')).toBe('three')
      expect(releasesOn(h, root)).toEqual(['one', 'three'])
    }
  })
})
