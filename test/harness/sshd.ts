// Test fleets of real OpenSSH servers: one `sshd` per simulated host, each on its own loopback
// address with its own host key, config and login directory, started from a temporary
// directory and stopped by PID. Works as root (CI) and as an ordinary user: every host logs in
// as the user running the tests, and a ForceCommand wrapper gives each host its own login
// directory, so one `target` lands in a different place per host.

import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  chmodSync,
  symlinkSync
} from 'node:fs'
import { connect as netConnect } from 'node:net'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll } from 'vitest'
import { tempDir } from './temp.js'

export type HostKeyType = 'ed25519' | 'ecdsa' | 'rsa'

export interface HostOptions {
  /** Host key types, default ['ed25519']. */
  readonly hostKeyTypes?: readonly HostKeyType[]
  /** Extra sshd_config lines. */
  readonly config?: readonly string[]
  /** SFTP only: `ForceCommand internal-sftp`, no shell, no remote commands. */
  readonly sftpOnly?: boolean
  /**
   * Public key lines this host alone accepts (its own AuthorizedKeysFile) instead of the fleet's
   * shared keys: hosts that require different keys. See makeKeyPair.
   */
  readonly authorizedKeys?: readonly string[]
}

export interface TestHost {
  readonly index: number
  readonly address: string
  readonly port: number
  /** `address:port`. */
  readonly entry: string
  /** Login (home) directory of this host; relative targets resolve here. */
  readonly home: string
  readonly dir: string
  /** known_hosts lines for this host's keys. */
  readonly knownHosts: string
  /** SHA256 fingerprints of its keys, as ssh-keygen prints. */
  readonly fingerprints: readonly string[]
  /** The listening sshd's PID (a new one after restart). */
  readonly pid: number
  /** Path of a file under the host's login directory. */
  path(relative: string): string
  /** The whole sshd log. */
  log(): string
  /** PIDs of the processes serving current connections (per-connection sshd, sftp-server, shells). */
  sessionPids(): number[]
  /**
   * Options for the host's sftp-server from its next session on: ['-R'] refuses every write
   * (permission denied), ['-P', 'posix-rename'] bans a request; [] for none.
   */
  setSftpServerFlags(flags: readonly string[]): void
  /**
   * A directory under the login directory that holds only `kib` KiB: a tmpfs when root, else a
   * file size limit on the SFTP server. Says which.
   */
  limitedDirectory(name: string, kib: number): 'tmpfs' | 'ulimit'
  /** PATH for commands run on the host from its next session on (undefined: the default). */
  setCommandPath(path: string | undefined): void
  /**
   * From the next session on, every session but SFTP's (with `sftpToo`, SFTP's too) runs
   * `command` with /bin/sh instead of what the client asked for, as an account's forced command
   * does ($SSH_ORIGINAL_COMMAND still says what that was); undefined for none.
   */
  setForcedCommand(command: string | undefined, options?: { readonly sftpToo?: boolean }): void
  /**
   * From the next session on, the login prints `text` as a line on stdout before anything runs,
   * the SFTP server included, as a ~/.bashrc that echoes does; undefined for none.
   */
  setLoginBanner(text: string | undefined): void
  /** SIGKILL the server and every session it serves: connections die mid-transfer. */
  kill(): Promise<void>
  /** Start the server again on the same address, port and keys. */
  restart(): Promise<void>
  stop(): Promise<void>
}

export interface ClientKeys {
  /** Unencrypted ed25519, OpenSSH format. */
  readonly ed25519: string
  /** RSA, traditional PEM (PKCS#1) encrypted with `passphrase`. */
  readonly rsaPemEncrypted: string
  readonly passphrase: string
  readonly ed25519Path: string
}

export interface Fleet {
  readonly dir: string
  readonly user: string
  readonly keys: ClientKeys
  readonly hosts: TestHost[]
  /** known_hosts text for every host. */
  readonly knownHosts: string
  /** The host at `index`, or an error. */
  host(index: number): TestHost
  stop(): Promise<void>
}

const SSHD_CANDIDATES = ['/usr/sbin/sshd', '/usr/local/sbin/sshd', '/sbin/sshd']
const SFTP_SERVER_CANDIDATES = [
  '/usr/lib/openssh/sftp-server',
  '/usr/libexec/openssh/sftp-server',
  '/usr/libexec/sftp-server',
  '/usr/lib/ssh/sftp-server'
]

function findBinary(candidates: readonly string[], what: string): string {
  const found = candidates.find((path) => existsSync(path))
  if (found === undefined)
    throw new Error(
      `${what} not found (looked at ${candidates.join(', ')}); install openssh-server`
    )
  return found
}

const livePids = new Set<number>()
let exitHookInstalled = false
function registerPid(pid: number): void {
  livePids.add(pid)
  if (exitHookInstalled) return
  exitHookInstalled = true
  // If a test run dies, its servers do not outlive it.
  process.once('exit', () => {
    for (const live of livePids) {
      try {
        process.kill(live, 'SIGKILL')
      } catch {
        // already gone
      }
    }
  })
}

function sshKeygen(args: readonly string[]): void {
  execFileSync('ssh-keygen', ['-q', ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
}

export interface KeyPair {
  /** Unencrypted ed25519 private key, OpenSSH format. */
  readonly privateKey: string
  /** Its `ssh-ed25519 AAAA… comment` line, for authorizedKeys. */
  readonly publicKey: string
}

/** A new ed25519 key pair made by ssh-keygen, for a host that requires its own key. */
export function makeKeyPair(comment = 'sfd-extra'): KeyPair {
  const path = join(tempDir('key'), 'id_ed25519')
  sshKeygen(['-t', 'ed25519', '-N', '', '-C', comment, '-f', path])
  return {
    privateKey: readFileSync(path, 'utf8'),
    publicKey: readFileSync(`${path}.pub`, 'utf8').trim()
  }
}

/**
 * sshd_config lines for a jump host: forwarding as sshd allows it by default, and a log (DEBUG1)
 * that records each forwarded connection; see forwardedConnections.
 */
export const BASTION_CONFIG: readonly string[] = ['LogLevel DEBUG1']

/** A jump host that refuses every forwarding (`AllowTcpForwarding no`), with the same log. */
export const NO_FORWARDING_CONFIG: readonly string[] = ['AllowTcpForwarding no', 'LogLevel DEBUG1']

export interface ForwardedConnection {
  /** Where the client says the connection comes from (ssh2 sends what forwardOut was given). */
  readonly originator: string
  /** `address:port` the jump host was asked to connect to. */
  readonly target: string
}

/**
 * The direct-tcpip channels (`ssh -J`, ssh2's forwardOut) a jump host's log records, from a
 * DEBUG1 log (BASTION_CONFIG): `server_request_direct_tcpip: originator … port …, target … port …`.
 * Whether sshd then allowed them is another matter (NO_FORWARDING_CONFIG logs the request too).
 */
export function forwardedConnections(log: string): ForwardedConnection[] {
  const found: ForwardedConnection[] = []
  const pattern =
    /server_request_direct_tcpip: originator (\S+) port (\d+), target (\S+) port (\d+)/g
  for (const match of log.matchAll(pattern))
    found.push({ originator: `${match[1]}:${match[2]}`, target: `${match[3]}:${match[4]}` })
  return found
}

/** A mark in a host's log, and what the log gained after it: one run's lines. */
export function logMark(host: Pick<TestHost, 'log'>): () => string {
  const start = host.log().length
  return () => host.log().slice(start)
}

/** How many logins (`Accepted publickey`/`password` lines) a stretch of sshd log holds. */
export function loginsIn(log: string): number {
  return log.match(/^.*Accepted (publickey|password|keyboard-interactive)\b.*$/gm)?.length ?? 0
}

/** How many TCP connections a stretch of sshd log (VERBOSE or more) shows arriving. */
export function connectionsIn(log: string): number {
  return log.match(/^.*Connection from \S+ port \d+ on .*$/gm)?.length ?? 0
}

export function fingerprintOf(publicKeyLine: string): string {
  const blob = Buffer.from(publicKeyLine.trim().split(/\s+/)[1] ?? '', 'base64')
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`
}

function makeClientKeys(dir: string): ClientKeys {
  const ed25519Path = join(dir, 'client_ed25519')
  const rsaPath = join(dir, 'client_rsa_pem')
  const passphrase = 'correct horse battery'
  sshKeygen(['-t', 'ed25519', '-N', '', '-C', 'sfd-test', '-f', ed25519Path])
  sshKeygen([
    '-t',
    'rsa',
    '-b',
    '2048',
    '-m',
    'PEM',
    '-N',
    passphrase,
    '-C',
    'sfd-test-rsa',
    '-f',
    rsaPath
  ])
  writeFileSync(
    join(dir, 'authorized_keys'),
    readFileSync(`${ed25519Path}.pub`, 'utf8') + readFileSync(`${rsaPath}.pub`, 'utf8')
  )
  return {
    ed25519: readFileSync(ed25519Path, 'utf8'),
    rsaPemEncrypted: readFileSync(rsaPath, 'utf8'),
    passphrase,
    ed25519Path
  }
}

/**
 * A directory for setCommandPath with every command of /usr/bin (which /bin is on this
 * machine's Debian) but `missing`: a host without them.
 */
export function commandsWithout(...missing: string[]): string {
  const bin = tempDir('bin')
  for (const tool of readdirSync('/usr/bin'))
    if (!missing.includes(tool)) symlinkSync(join('/usr/bin', tool), join(bin, tool))
  return bin
}

/** Runs `body` with the host's commands looked up in `path` alone, then the default PATH again. */
export async function withCommandPath<T>(
  host: Pick<TestHost, 'setCommandPath'>,
  path: string,
  body: () => Promise<T>
): Promise<T> {
  host.setCommandPath(path)
  try {
    return await body()
  } finally {
    host.setCommandPath(undefined)
  }
}

/** Loopback address for host `index`: 127.0.1.2, 127.0.1.3, … then 127.0.2.x. */
export function loopbackAddress(index: number): string {
  return `127.0.${1 + Math.floor(index / 250)}.${2 + (index % 250)}`
}

function waitForBanner(
  address: string,
  port: number,
  child: ChildProcess,
  logPath: string
): Promise<void> {
  const deadline = Date.now() + 10_000
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      if (child.exitCode !== null) {
        reject(new Error(`sshd exited with ${child.exitCode}: ${readLog(logPath)}`))
        return
      }
      if (Date.now() > deadline) {
        reject(
          new Error(`sshd on ${address}:${port} did not answer within 10s: ${readLog(logPath)}`)
        )
        return
      }
      const socket = netConnect({ host: address, port })
      let received = ''
      socket.setTimeout(1000)
      socket.on('data', (data) => {
        received += data.toString('latin1')
        if (received.startsWith('SSH-')) {
          socket.destroy()
          resolve()
        }
      })
      const retry = (): void => {
        socket.destroy()
        setTimeout(attempt, 50)
      }
      socket.on('error', retry)
      socket.on('timeout', retry)
    }
    attempt()
  })
}

/** The log's last `tail` characters (for an error message), or all of it. */
function readLog(path: string, tail = 2000): string {
  try {
    return readFileSync(path, 'utf8').slice(-tail)
  } catch {
    return '(no log)'
  }
}

async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const pid = child.pid
  if (pid === undefined) return
  if (child.exitCode !== null || child.signalCode !== null) {
    livePids.delete(pid)
    return
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  signalQuietly(pid, 'SIGCONT')
  signalQuietly(pid, signal)
  const timer = setTimeout(() => signalQuietly(pid, 'SIGKILL'), 3000)
  await exited
  clearTimeout(timer)
  livePids.delete(pid)
}

/** Every process below `pid` (its sessions and their sftp-servers and shells). */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      const list = children.get(ppid) ?? []
      list.push(Number(entry))
      children.set(ppid, list)
    } catch {
      // gone meanwhile
    }
  }
  const found: number[] = []
  const walk = (parent: number): void => {
    for (const child of children.get(parent) ?? []) {
      found.push(child)
      walk(child)
    }
  }
  walk(pid)
  return found
}

async function startHost(fleetDir: string, index: number, options: HostOptions): Promise<TestHost> {
  const sshd = findBinary(SSHD_CANDIDATES, 'sshd')
  const sftpServer = findBinary(SFTP_SERVER_CANDIDATES, 'sftp-server')
  const dir = join(fleetDir, `host${index}`)
  const home = join(dir, 'home')
  mkdirSync(home, { recursive: true })

  const types = options.hostKeyTypes ?? ['ed25519']
  const keyPaths = types.map((type) => {
    const path = join(dir, `ssh_host_${type}_key`)
    sshKeygen([
      '-t',
      type,
      ...(type === 'rsa' ? ['-b', '2048'] : []),
      '-N',
      '',
      '-C',
      '',
      '-f',
      path
    ])
    return path
  })
  const publicLines = keyPaths.map((path) => readFileSync(`${path}.pub`, 'utf8').trim())

  // Each host's own login directory: sessions and the SFTP server start there. Files in the
  // host's directory turn faults on while it runs: `sftp-flags` holds options for sftp-server
  // (-R: every write refused; -P name: a request banned); `fsize` caps the size of files;
  // `path` replaces the PATH commands are found on; `banner` is printed before anything runs;
  // `forced-command` runs instead of every command, and of the SFTP server too when
  // `forced-command-sftp` exists.
  const login = join(dir, 'login.sh')
  writeFileSync(
    login,
    [
      '#!/bin/sh',
      `cd '${home}' || exit 1`,
      `HOME='${home}'; export HOME`,
      `if [ -e '${dir}/fsize' ]; then trap '' XFSZ; ulimit -f "$(cat '${dir}/fsize')"; fi`,
      `if [ -e '${dir}/path' ]; then PATH="$(cat '${dir}/path')"; export PATH; fi`,
      `if [ -e '${dir}/banner' ]; then cat '${dir}/banner'; fi`,
      `if [ -e '${dir}/forced-command' ] && { [ "$SSH_ORIGINAL_COMMAND" != '${sftpServer}' ] || [ -e '${dir}/forced-command-sftp' ]; }; then exec /bin/sh -c "$(cat '${dir}/forced-command')"; fi`,
      'if [ -z "$SSH_ORIGINAL_COMMAND" ]; then exec /bin/sh; fi',
      `if [ "$SSH_ORIGINAL_COMMAND" = '${sftpServer}' ] && [ -e '${dir}/sftp-flags' ]; then exec '${sftpServer}' $(cat '${dir}/sftp-flags'); fi`,
      'exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"',
      ''
    ].join('\n')
  )
  chmodSync(login, 0o755)

  // A host with keys of its own accepts those alone; the others share the fleet's file.
  let authorizedKeysFile = join(fleetDir, 'authorized_keys')
  if (options.authorizedKeys !== undefined) {
    authorizedKeysFile = join(dir, 'authorized_keys')
    writeFileSync(
      authorizedKeysFile,
      options.authorizedKeys.map((line) => `${line.trim()}\n`).join('')
    )
  }

  const address = loopbackAddress(index)
  const logPath = join(dir, 'sshd.log')
  const configPath = join(dir, 'sshd_config')
  const writeConfig = (port: number): void => {
    // sshd keeps the first value it reads for a keyword: a host's own lines go first.
    const config = [
      ...(options.config ?? []),
      `ListenAddress ${address}:${port}`,
      ...keyPaths.map((path) => `HostKey ${path}`),
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authorizedKeysFile}`,
      'StrictModes no',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'PermitRootLogin prohibit-password',
      'PrintMotd no',
      'LogLevel VERBOSE',
      // The simulated user's home is the host's login directory, for sshd too: the login shell
      // then reads no ~/.bashrc of the runner's own user (Debian's bash reads it under sshd,
      // and one that runs `pyenv init` costs every session 0.4–2 s of the runner's CPU).
      `SetEnv HOME=${home}`,
      options.sftpOnly === true ? `ForceCommand internal-sftp -d ${home}` : `ForceCommand ${login}`,
      `Subsystem sftp ${sftpServer}`
    ]
    writeFileSync(configPath, `${config.join('\n')}\n`)
  }
  const launch = async (port: number): Promise<ChildProcess> => {
    writeConfig(port)
    const child = spawn(sshd, ['-D', '-e', '-f', configPath, '-E', logPath], {
      stdio: ['ignore', 'ignore', 'ignore']
    })
    if (child.pid === undefined) throw new Error('could not start sshd')
    registerPid(child.pid)
    try {
      await waitForBanner(address, port, child, logPath)
    } catch (error) {
      await stopProcess(child)
      throw error
    }
    return child
  }

  let port = 0
  let child: ChildProcess | undefined
  for (let tries = 0; child === undefined; tries += 1) {
    port = 20000 + Math.floor(Math.random() * 40000)
    try {
      child = await launch(port)
    } catch (error) {
      if (tries >= 5 || !/Address already in use|Bind to port/i.test(String(error))) throw error
    }
  }

  const mounts: string[] = []
  const host: TestHost = {
    index,
    address,
    port,
    entry: `${address}:${port}`,
    home,
    dir,
    knownHosts: publicLines
      .map((line) => `[${address}]:${port} ${line.split(/\s+/).slice(0, 2).join(' ')}`)
      .join('\n'),
    fingerprints: publicLines.map(fingerprintOf),
    get pid() {
      return child?.pid ?? 0
    },
    path: (relative) => join(home, relative),
    log: () => readLog(logPath, Infinity),
    sessionPids: () => (child?.pid === undefined ? [] : descendants(child.pid)),
    setSftpServerFlags: (flags) => {
      if (flags.length > 0) writeFileSync(join(dir, 'sftp-flags'), flags.join(' '))
      else rmSync(join(dir, 'sftp-flags'), { force: true })
    },
    limitedDirectory: (name, kib) => {
      const path = join(home, name)
      mkdirSync(path, { recursive: true })
      if (process.getuid?.() === 0) {
        execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${kib}k,mode=0755`, 'tmpfs', path])
        mounts.push(path)
        return 'tmpfs'
      }
      // Without root there is no size-limited file system to mount: cap file sizes instead.
      writeFileSync(join(dir, 'fsize'), String(kib * 2)) // ulimit -f counts 512-byte blocks
      return 'ulimit'
    },
    setCommandPath: (path) => {
      if (path !== undefined) writeFileSync(join(dir, 'path'), path)
      else rmSync(join(dir, 'path'), { force: true })
    },
    setForcedCommand: (command, forced) => {
      if (command !== undefined && forced?.sftpToo === true)
        writeFileSync(join(dir, 'forced-command-sftp'), '')
      else rmSync(join(dir, 'forced-command-sftp'), { force: true })
      if (command !== undefined) writeFileSync(join(dir, 'forced-command'), command)
      else rmSync(join(dir, 'forced-command'), { force: true })
    },
    setLoginBanner: (text) => {
      if (text !== undefined)
        writeFileSync(join(dir, 'banner'), text.endsWith('\n') ? text : `${text}\n`)
      else rmSync(join(dir, 'banner'), { force: true })
    },
    kill: async () => {
      const sessions = host.sessionPids()
      if (child !== undefined) await stopProcess(child, 'SIGKILL')
      for (const pid of sessions) signalQuietly(pid, 'SIGKILL')
    },
    restart: async () => {
      if (child !== undefined) await stopProcess(child)
      child = await launch(port)
    },
    stop: async () => {
      for (const pid of host.sessionPids()) signalQuietly(pid, 'SIGCONT')
      if (child !== undefined) await stopProcess(child)
      for (const path of mounts.splice(0)) {
        try {
          execFileSync('umount', ['-l', path])
        } catch {
          // already unmounted
        }
      }
    }
  }
  return host
}

function signalQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal)
  } catch {
    // already gone
  }
}

export interface FleetOptions {
  readonly count: number
  /** Options per host index (or for all). */
  readonly host?: HostOptions | ((index: number) => HostOptions)
  /** First host index (its address); fleets started side by side use different ranges. */
  readonly firstIndex?: number
}

function ensurePrivilegeSeparationDir(): void {
  if (process.getuid?.() !== 0) return
  if (!existsSync('/run/sshd')) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 })
}

export async function startFleet(options: FleetOptions): Promise<Fleet> {
  ensurePrivilegeSeparationDir()
  const dir = tempDir('fleet')
  chmodSync(dir, 0o755)
  const keys = makeClientKeys(dir)
  const first = options.firstIndex ?? Math.floor(Math.random() * 20) * 50
  const hosts: TestHost[] = []
  try {
    for (let i = 0; i < options.count; i += 1) {
      const hostOptions =
        typeof options.host === 'function' ? options.host(i) : (options.host ?? {})
      hosts.push(await startHost(dir, first + i, hostOptions))
    }
  } catch (error) {
    await Promise.all(hosts.map((host) => host.stop()))
    throw error
  }
  return {
    dir,
    user: userInfo().username,
    keys,
    hosts,
    knownHosts: hosts.map((host) => host.knownHosts).join('\n'),
    host: (index) => {
      const found = hosts[index]
      if (found === undefined) throw new Error(`the fleet has no host ${index}`)
      return found
    },
    stop: async () => {
      await Promise.all(hosts.map((host) => host.stop()))
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

export interface OpenSshRun {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * OpenSSH's own client against the fleet, to check a fixture the action is tested with: the
 * fleet's known_hosts (strictly), no agent and no ~/.ssh, and `privateKey` (default: the fleet's
 * ed25519 key) as the only identity. The options are in a config file, so that the `ssh` that
 * `-J` starts for each jump host has them too.
 */
export function openSsh(
  fleet: Pick<Fleet, 'knownHosts' | 'keys'>,
  args: readonly string[],
  privateKey?: string
): OpenSshRun {
  const dir = tempDir('openssh')
  const knownHosts = join(dir, 'known_hosts')
  writeFileSync(knownHosts, `${fleet.knownHosts}\n`)
  let identity = fleet.keys.ed25519Path
  if (privateKey !== undefined) {
    identity = join(dir, 'identity')
    writeFileSync(identity, privateKey, { mode: 0o600 })
  }
  const config = join(dir, 'config')
  writeFileSync(
    config,
    [
      'Host *',
      `  UserKnownHostsFile ${knownHosts}`,
      '  GlobalKnownHostsFile /dev/null',
      '  StrictHostKeyChecking yes',
      '  BatchMode yes',
      '  IdentitiesOnly yes',
      '  IdentityAgent none',
      `  IdentityFile ${identity}`,
      '  ConnectTimeout 10',
      ''
    ].join('\n')
  )
  const run = spawnSync('ssh', ['-F', config, ...args], { encoding: 'utf8', timeout: 30_000 })
  return { status: run.status, stdout: run.stdout, stderr: run.stderr }
}

/**
 * A fleet for one test file: started before its tests, stopped after them. The object stands
 * for the fleet from then on (its properties are read from the started fleet).
 */
export function useFleet(options: FleetOptions): Fleet {
  let started: Fleet | undefined
  beforeAll(async () => {
    started = await startFleet(options)
  })
  afterAll(async () => {
    await started?.stop()
  })
  const current = (): Fleet => {
    if (started === undefined) throw new Error('the fleet starts in beforeAll')
    return started
  }
  return {
    get dir() {
      return current().dir
    },
    get user() {
      return current().user
    },
    get keys() {
      return current().keys
    },
    get hosts() {
      return current().hosts
    },
    get knownHosts() {
      return current().knownHosts
    },
    host: (index) => current().host(index),
    stop: () => current().stop()
  }
}
