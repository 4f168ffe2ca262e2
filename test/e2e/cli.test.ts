// The command line as a user runs it, `node dist/cli.js …`, against real OpenSSH servers: options,
// an inventory file, --json, exit statuses 0/1/2, keys from ssh-agent and ~/.ssh, host keys from
// ~/.ssh/known_hosts, the live display on a pseudo-terminal, and the packed tarball installed.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  writeFileSync
} from 'node:fs'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { workspace } from '../helpers/workspace.js'
import { sha256, treeDigest, type HostResultOutput } from '../harness/run-action.js'
import { runCli, type CliRun } from '../harness/run-cli.js'
import { connectionsIn, logMark, makeKeyPair, useFleet, type TestHost } from '../harness/sshd.js'
import { tempDir } from '../harness/temp.js'

const fleet = useFleet({ count: 3 })
const host = (index: number): TestHost => fleet.host(index)

const FILES = { 'index.html': '<h1>cli</h1>\n', 'css/site.css': 'body { margin: 0 }\n' }
const DIGESTS = Object.fromEntries(
  Object.entries(FILES).map(([path, text]) => [path, sha256(text)])
)

/** A HOME with the files given under ~/.ssh (mode 0600), or none. */
function homeWith(ssh: Record<string, string> = {}): string {
  const home = tempDir('home')
  if (Object.keys(ssh).length === 0) return home
  mkdirSync(join(home, '.ssh'), { mode: 0o700 })
  for (const [name, text] of Object.entries(ssh))
    writeFileSync(join(home, '.ssh', name), text, { mode: 0o600 })
  return home
}

/** A known_hosts file with the fleet's host keys. */
function knownHostsFile(): string {
  const path = join(tempDir('kh'), 'known_hosts')
  writeFileSync(path, `${fleet.knownHosts}\n`)
  return path
}

/** The fleet's user and key file, and its host keys (a known_hosts file unless given). */
function credentialArgs(hostKeys = ['--known-hosts-file', knownHostsFile()]): string[] {
  return ['--username', fleet.user, '--key-path', fleet.keys.ed25519Path, ...hostKeys]
}

/** Options for a deploy of the workspace to `hosts`. */
function deployArgs(hosts: readonly TestHost[], target: string, hostKeys?: string[]): string[] {
  return [
    ...hosts.flatMap((h) => ['--host', h.entry]),
    ...credentialArgs(hostKeys),
    '--source',
    '**',
    '--target',
    target,
    '--retry-delay',
    '100ms'
  ]
}

function explain(run: CliRun): string {
  return `exit ${String(run.code)}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g

describe('deploys', () => {
  test('with options: every host gets every file, exit 0', async () => {
    const cwd = workspace(FILES)
    const run = await runCli(deployArgs([host(0), host(1)], 'cli/options'), {
      cwd,
      env: { HOME: homeWith() }
    })
    expect(run.code, explain(run)).toBe(0)
    expect(run.stdout).toMatch(/2 of 2 host\(s\) deployed, 0 failed/)
    for (const h of [host(0), host(1)]) expect(treeDigest(h.path('cli/options'))).toEqual(DIGESTS)
  })

  test('releases, then a rollback: --releases, --release-name, --rollback with no --source', async () => {
    const h = host(1)
    const env = { HOME: homeWith() }
    for (const [name, text] of [
      ['r1', 'one'],
      ['r2', 'two']
    ] as const) {
      const run = await runCli(
        [...deployArgs([h], 'cli/releases'), '--releases', '--release-name', name, '--json'],
        { cwd: workspace({ 'v.txt': text }), env }
      )
      expect(run.code, explain(run)).toBe(0)
      expect(JSON.parse(run.stdout) as HostResultOutput[]).toMatchObject([
        { status: 'success', release: name, switched: true }
      ])
    }
    const back = await runCli(
      [
        '--host',
        h.entry,
        ...credentialArgs(),
        '--target',
        'cli/releases',
        '--releases',
        '--rollback'
      ],
      { cwd: workspace({}), env }
    )
    expect(back.code, explain(back)).toBe(0)
    expect(back.stdout).toMatch(/1 of 1 host\(s\) rolled back, 0 failed/)
    expect(readFileSync(h.path('cli/releases/current/v.txt'), 'utf8')).toBe('one')
  })

  test('from an inventory file outside the working directory', async () => {
    const cwd = workspace(FILES)
    const inventory = join(tempDir('inv'), 'fleet.yml')
    writeFileSync(
      inventory,
      [
        'defaults:',
        `  user: ${fleet.user}`,
        '  target: cli/inventory',
        'hosts:',
        `  - ${host(0).entry}`,
        `  - host: ${host(2).address}`,
        `    port: ${host(2).port}`,
        '    target: cli/inventory-own',
        ''
      ].join('\n')
    )
    const run = await runCli([...credentialArgs(), '--source', '**', '--inventory', inventory], {
      cwd,
      env: { HOME: homeWith() }
    })
    expect(run.code, explain(run)).toBe(0)
    expect(treeDigest(host(0).path('cli/inventory'))).toEqual(DIGESTS)
    expect(treeDigest(host(2).path('cli/inventory-own'))).toEqual(DIGESTS)
  })

  test('--json: the results array alone on stdout, the log on stderr', async () => {
    const cwd = workspace(FILES)
    const run = await runCli([...deployArgs([host(0), host(1)], 'cli/json'), '--json'], {
      cwd,
      env: { HOME: homeWith() }
    })
    expect(run.code, explain(run)).toBe(0)
    const results = JSON.parse(run.stdout) as HostResultOutput[]
    expect(results.map((result) => [result.host, result.status, result.files])).toEqual([
      [`${fleet.user}@${host(0).entry}`, 'success', 2],
      [`${fleet.user}@${host(1).entry}`, 'success', 2]
    ])
    expect(run.stderr).toMatch(/2 of 2 host\(s\) deployed/)
  })

  test('--json stays JSON when the patterns go through @actions/glob (its debug lines kept off)', async () => {
    const cwd = workspace({ ...FILES, 'app.js.map': '{}' })
    const args = deployArgs([host(0)], 'cli/json-glob').map((word) => word)
    const run = await runCli([...args, '--source', '!**/*.map', '--json'], {
      cwd,
      env: { HOME: homeWith() }
    })
    expect(run.code, explain(run)).toBe(0)
    const results = JSON.parse(run.stdout) as HostResultOutput[]
    expect(results.map((result) => [result.status, result.files])).toEqual([['success', 2]])
    expect(run.stdout + run.stderr).not.toContain('::debug::')
  })
})

describe('exit status', () => {
  test.each([
    [['--nope'], "unknown option '--nope'"],
    [['--port', '2200', '--port', '2201'], "option '--port' was given more than once"],
    [['--atomic=false'], "option '--atomic' takes no value"],
    [['stray'], "unexpected argument 'stray'"],
    [['--verify', 'md5'], "Input 'verify' (--verify): 'md5' is not one of"],
    [['--source', '../elsewhere/*.txt'], "Input 'source' (--source): Invalid pattern"]
  ])('2 for bad usage %j, naming the option, before any connection', async (extra, message) => {
    const marks = [host(0), host(1)].map((h) => logMark(h))
    const cwd = workspace(FILES)
    const run = await runCli([...deployArgs([host(0), host(1)], 'cli/bad'), ...extra], {
      cwd,
      env: { HOME: homeWith() }
    })
    expect(run.code, explain(run)).toBe(2)
    expect(`${run.stdout}${run.stderr}`).toContain(message)
    for (const mark of marks) expect(connectionsIn(mark())).toBe(0)
    expect(existsSync(host(0).path('cli/bad'))).toBe(false)
  })

  test('1 when a host fails; the other is deployed; 0 when the failure is within --max-failures', async () => {
    const cwd = workspace(FILES)
    const stranger = makeKeyPair('not-this-fleet')
    // host 1 is pinned to another key: it fails closed
    const pinned = `${host(0).knownHosts}\n${host(1).knownHosts.split(' ')[0] ?? ''} ${stranger.publicKey}`
    const run = await runCli(
      [
        ...deployArgs([host(0), host(1)], 'cli/one-fails', ['--known-hosts', pinned]),
        '--retries',
        '0'
      ],
      { cwd, env: { HOME: homeWith() } }
    )
    expect(run.code, explain(run)).toBe(1)
    expect(run.stdout).toMatch(/1 of 2 host\(s\) deployed, 1 failed/)
    expect(treeDigest(host(0).path('cli/one-fails'))).toEqual(DIGESTS)
    expect(existsSync(host(1).path('cli/one-fails'))).toBe(false)
    // The same failure within --max-failures: a warning, exit 0.
    const tolerated = await runCli(
      [
        ...deployArgs([host(0), host(1)], 'cli/one-fails', ['--known-hosts', pinned]),
        '--retries',
        '0',
        '--max-failures',
        '1'
      ],
      { cwd, env: { HOME: homeWith() } }
    )
    expect(tolerated.code, explain(tolerated)).toBe(0)
    expect(tolerated.stdout + tolerated.stderr).toContain('within max-failures: 1')
    expect(existsSync(host(1).path('cli/one-fails'))).toBe(false)
  })
})

describe('terminal defaults', () => {
  let agent: ChildProcess | undefined
  let agentSocket = ''

  beforeAll(async () => {
    agentSocket = join(tempDir('agent'), 'agent.sock')
    agent = spawn('ssh-agent', ['-D', '-a', agentSocket], { stdio: 'ignore' })
    for (let tries = 0; tries < 100 && !existsSync(agentSocket); tries++)
      await new Promise((done) => setTimeout(done, 50))
    const added = spawnSync('ssh-add', [fleet.keys.ed25519Path], {
      env: { ...process.env, SSH_AUTH_SOCK: agentSocket },
      encoding: 'utf8'
    })
    expect(added.status, added.stderr).toBe(0)
  })
  afterAll(() => {
    if (agent?.pid !== undefined) process.kill(agent.pid, 'SIGTERM')
  })

  /** A deploy that names neither a key nor host keys, as a person types it. */
  const bareArgs = (target: string): string[] => [
    '--host',
    host(0).entry,
    '--source',
    '**',
    '--target',
    target
  ]

  test('keys from ssh-agent, host keys from ~/.ssh/known_hosts, the user from the session', async () => {
    const run = await runCli(bareArgs('cli/agent'), {
      cwd: workspace(FILES),
      env: { HOME: homeWith({ known_hosts: fleet.knownHosts }), SSH_AUTH_SOCK: agentSocket }
    })
    expect(run.code, explain(run)).toBe(0)
    expect(run.stdout).toMatch(/auth ssh-agent\b/)
    expect(treeDigest(host(0).path('cli/agent'))).toEqual(DIGESTS)
  })

  test('keys from ~/.ssh/id_ed25519 where no agent runs', async () => {
    const home = homeWith({ known_hosts: fleet.knownHosts })
    copyFileSync(fleet.keys.ed25519Path, join(home, '.ssh', 'id_ed25519'))
    const run = await runCli(bareArgs('cli/home-key'), {
      cwd: workspace(FILES),
      env: { HOME: home }
    })
    expect(run.code, explain(run)).toBe(0)
    expect(run.stdout).toContain(`keys: ${join(home, '.ssh', 'id_ed25519')}`)
    expect(treeDigest(host(0).path('cli/home-key'))).toEqual(DIGESTS)
  })

  test('each default key is tried in turn, as OpenSSH does: an id_ed25519 the host refuses, then the id_rsa it accepts', async () => {
    const home = homeWith({
      known_hosts: fleet.knownHosts,
      id_ed25519: makeKeyPair('not-authorized').privateKey,
      id_rsa: fleet.keys.rsaPemEncrypted
    })
    const run = await runCli(
      [
        ...bareArgs('cli/second-key'),
        // A second host on a thread of its own: the thread reads the same key files.
        '--host',
        host(1).entry,
        '--threads',
        '2',
        '--passphrase',
        fleet.keys.passphrase,
        '--retries',
        '0'
      ],
      { cwd: workspace(FILES), env: { HOME: home } }
    )
    expect(run.code, explain(run)).toBe(0)
    expect(run.stdout).toContain(
      `keys: ${join(home, '.ssh', 'id_ed25519')}, then ${join(home, '.ssh', 'id_rsa')}`
    )
    expect(run.stdout).toMatch(/2 of 2 host\(s\) deployed, 0 failed/)
    expect(run.stdout).toContain('2 thread(s)')
    for (const h of [host(0), host(1)])
      expect(treeDigest(h.path('cli/second-key'))).toEqual(DIGESTS)
  })

  test('an agent socket that is gone is passed over: the key file still logs in', async () => {
    const home = homeWith({ known_hosts: fleet.knownHosts })
    copyFileSync(fleet.keys.ed25519Path, join(home, '.ssh', 'id_ed25519'))
    const run = await runCli([...bareArgs('cli/dead-agent'), '--retries', '0'], {
      cwd: workspace(FILES),
      env: { HOME: home, SSH_AUTH_SOCK: join(tempDir('gone'), 'agent.sock') }
    })
    expect(run.code, explain(run)).toBe(0)
    expect(run.stdout).toMatch(/keys: ssh-agent, then .*id_ed25519/)
    expect(treeDigest(host(0).path('cli/dead-agent'))).toEqual(DIGESTS)
  })

  test('a host missing from ~/.ssh/known_hosts fails closed, with its fingerprint', async () => {
    const run = await runCli([...bareArgs('cli/unknown-host'), '--retries', '0'], {
      cwd: workspace(FILES),
      env: { HOME: homeWith({ known_hosts: host(1).knownHosts }), SSH_AUTH_SOCK: agentSocket }
    })
    expect(run.code, explain(run)).toBe(1)
    expect(run.stdout).toContain(host(0).fingerprints[0] ?? 'no fingerprint')
    expect(existsSync(host(0).path('cli/unknown-host'))).toBe(false)
  })

  test('no ~/.ssh/known_hosts and no host key option: exit 2 before connecting', async () => {
    const mark = logMark(host(0))
    const run = await runCli(bareArgs('cli/no-known-hosts'), {
      cwd: workspace(FILES),
      env: { HOME: homeWith(), SSH_AUTH_SOCK: agentSocket }
    })
    expect(run.code, explain(run)).toBe(2)
    expect(run.stdout).toMatch(/Input '(known-hosts|insecure-ignore-host-key)' \(--/)
    expect(connectionsIn(mark())).toBe(0)
  })
})

describe('on a terminal', () => {
  test('a live line per host, redrawn in place, ending in each final state and a total', async () => {
    const run = await runCli(deployArgs([host(0), host(1), host(2)], 'cli/tty'), {
      cwd: workspace({ ...FILES, 'big.bin': Buffer.alloc(4 << 20, 7) }),
      env: { HOME: homeWith() },
      tty: { columns: 160, rows: 40 }
    })
    expect(run.code, explain(run)).toBe(0)
    expect(run.stdout).toMatch(ANSI) // cursor movement and line erasing: redrawn in place
    const screen = run.stdout.replace(ANSI, '').replace(/\r/g, '').split('\n')
    const last = screen.lastIndexOf(
      screen.find((line) => /^total\s+3\/3 hosts done/.test(line)) ?? ''
    )
    expect(last, run.stdout).toBeGreaterThan(2)
    const final = screen.slice(last - 3, last)
    for (const [index, h] of [host(0), host(1), host(2)].entries())
      expect(final[index]).toMatch(
        new RegExp(
          `^${fleet.user}@${h.entry.replace(/\./g, '\\.')}\\s+success, 3 uploaded, 0 unchanged`
        )
      )
    expect(screen[last]).toMatch(/3\/3 hosts done, 9\/9 files/)
    // Before that, the same lines showed the hosts waiting and at work.
    const label = `${fleet.user}@${host(0).entry}`
    const states = screen
      .filter((line) => line.startsWith(label))
      .map((line) => line.split(/\s+/)[1])
    expect(states[0]).toBe('waiting')
    expect(states.at(-1)).toBe('success,')
    for (const h of [host(0), host(1), host(2)])
      expect(sha256(readFileSync(h.path('cli/tty/big.bin')))).toBe(sha256(Buffer.alloc(4 << 20, 7)))
  })
})

describe('packaged', () => {
  test('npm pack, then the tarball installed globally: ssh-fanout-deploy --version', () => {
    const root = resolve(import.meta.dirname, '../..')
    const out = tempDir('pack')
    const packed = spawnSync('npm', ['pack', '--pack-destination', out, '--silent'], {
      cwd: root,
      encoding: 'utf8'
    })
    expect(packed.status, packed.stderr).toBe(0)
    const tarball = readdirSync(out).find((name) => name.endsWith('.tgz'))
    expect(tarball).toBeDefined()
    const prefix = join(out, 'prefix')
    const installed = spawnSync(
      'npm',
      [
        'install',
        '--global',
        '--prefix',
        prefix,
        '--offline',
        '--no-audit',
        '--no-fund',
        join(out, tarball ?? '')
      ],
      { cwd: out, encoding: 'utf8' }
    )
    expect(installed.status, installed.stderr).toBe(0)
    const version = spawnSync(join(prefix, 'bin', 'ssh-fanout-deploy'), ['--version'], {
      encoding: 'utf8'
    })
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      version: string
    }
    expect(version.stdout.trim(), version.stderr).toBe(manifest.version)
  })
})
