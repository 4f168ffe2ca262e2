// A host in memory behind fakes of our own SSH interfaces (src/ssh/types.ts, not ssh2): an SFTP
// session over a small file system, and a shell that speaks the action's protocol (the hasher
// prelude, sha256sum batches, the target probe, tar into a staging directory, df, rm -rf). For
// the orchestration's unit tests: no sshd, every branch in milliseconds.

import { createHash } from 'node:crypto'
import { posix } from 'node:path'
import { ChannelRefusedError, ConnectionEndedError, DeployError } from '../../../src/errors.js'
import { HASHER_PRELUDE } from '../../../src/remote/shell-protocol.js'
import type {
  CommandChannel,
  ExecResult,
  RemoteStat,
  SftpSession,
  SshConnection
} from '../../../src/ssh/types.js'
import { extractTar, quotedArguments } from './fake-shell-text.js'

export type FakeNode =
  | { readonly kind: 'file'; data: Buffer; mode: number }
  | { readonly kind: 'dir' }
  | { readonly kind: 'link'; readonly target: string }

export interface FakeHostOptions {
  /**
   * What the host runs for us: a POSIX shell with sha256sum and tar (`shell`), the same without
   * tar (`no-tar`), or no command at all, SFTP only (`refused`).
   */
  readonly commands?: 'shell' | 'no-tar' | 'refused'
  /** Whether the SFTP server offers posix-rename@openssh.com. */
  readonly posixRename?: boolean
  readonly freeBytes?: number
  /** The login directory, where the shell's relative paths start. */
  readonly home?: string
  /** Where the SFTP server's relative paths start (`sftp-server -d`); `home` by default. */
  readonly sftpHome?: string
  /** Sessions (SFTP, hashing shells) open at once per connection: OpenSSH's MaxSessions. */
  readonly maxSessions?: number
  /** How long each SFTP write takes (default: a turn of the event loop). */
  readonly writeDelayMs?: number
}

/**
 * What a write does, as a test's hook decides: store the bytes flipped, fail with SFTP's
 * FAILURE status (a full disk, say), or end the connection.
 */
export type WriteFault = 'corrupt' | 'fail' | 'cut' | undefined

export interface FakeHost {
  readonly nodes: Map<string, FakeNode>
  /** Every request the host saw, in order: `open w PATH`, `rename FROM TO`, `exec COMMAND`... */
  readonly ops: string[]
  /** Connections made so far. */
  readonly connections: number
  /** Called before each SFTP write. */
  onWrite: ((path: string, position: number) => WriteFault) | undefined
  /** The most SFTP writes in flight at once so far (each takes `writeDelayMs`). */
  maxWritesInFlight: number
  /** Called on each connect: an error refuses the connection. */
  onConnect: ((count: number) => DeployError | undefined) | undefined
  connect(signal: AbortSignal): Promise<SshConnection>
  put(path: string, content: string | Buffer): void
  link(path: string, target: string): void
  /** A file's content, by absolute path; undefined where there is no file. */
  file(path: string): Buffer | undefined
  /** Absolute paths of every file (not directory or link), sorted. */
  files(): string[]
}

async function collect(input: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of input) chunks.push(Buffer.from(chunk))
  return Buffer.concat(chunks)
}

function failure(kind: DeployError['kind'], message: string): DeployError {
  return new DeployError(kind, message)
}

export function fakeHost(options: FakeHostOptions = {}): FakeHost {
  const home = options.home ?? '/home/u'
  const commands = options.commands ?? 'shell'
  const nodes = new Map<string, FakeNode>([['/', { kind: 'dir' }]])
  const ops: string[] = []
  const state = { connections: 0 }
  const fs = fileSystem(nodes, home)
  const sftpFs = fileSystem(nodes, options.sftpHome ?? home)
  fs.mkdirs(home)
  fs.mkdirs(options.sftpHome ?? home)
  const host: FakeHost = {
    nodes,
    ops,
    get connections() {
      return state.connections
    },
    onWrite: undefined,
    maxWritesInFlight: 0,
    onConnect: undefined,
    connect(signal) {
      state.connections += 1
      const refused = host.onConnect?.(state.connections)
      if (refused !== undefined) return Promise.reject(refused)
      if (signal.aborted) return Promise.reject(signal.reason as Error)
      return Promise.resolve(fakeConnection({ fs, sftpFs, ops, commands, home, host, options }))
    },
    put(path, content) {
      fs.mkdirs(posix.dirname(path))
      nodes.set(path, { kind: 'file', data: Buffer.from(content), mode: 0o644 })
    },
    link(path, target) {
      fs.mkdirs(posix.dirname(path))
      nodes.set(path, { kind: 'link', target })
    },
    file(path) {
      const node = nodes.get(path)
      return node?.kind === 'file' ? node.data : undefined
    },
    files: () =>
      [...nodes]
        .filter(([, node]) => node.kind === 'file')
        .map(([path]) => path)
        .sort()
  }
  return host
}

type FileSystem = ReturnType<typeof fileSystem>

/** Paths resolved as a POSIX server does: from the login directory, links followed. */
function fileSystem(nodes: Map<string, FakeNode>, home: string) {
  const canonical = (path: string, followLast: boolean, depth = 0): string => {
    if (depth > 8) throw failure('remote-failure', `${path}: too many levels of symbolic links`)
    const parts = posix.resolve(home, path).split('/').filter(Boolean)
    let current = '/'
    parts.forEach((part, index) => {
      const next = posix.join(current, part)
      const node = nodes.get(next)
      const last = index === parts.length - 1
      if (node?.kind === 'link' && (!last || followLast))
        current = canonical(posix.resolve(current, node.target), true, depth + 1)
      else current = next
    })
    return current
  }
  const below = (dir: string): string[] =>
    [...nodes.keys()].filter(
      (path) => path.startsWith(dir === '/' ? '/' : `${dir}/`) && path !== dir
    )
  return {
    canonical,
    below,
    mkdirs(path: string): void {
      const parts = posix.resolve(home, path).split('/').filter(Boolean)
      let current = '/'
      for (const part of parts) {
        current = canonical(posix.join(current, part), true)
        if (!nodes.has(current)) nodes.set(current, { kind: 'dir' })
      }
    },
    remove(path: string): void {
      for (const inside of below(path)) nodes.delete(inside)
      nodes.delete(path)
    },
    parentIsDirectory: (path: string): boolean => nodes.get(posix.dirname(path))?.kind === 'dir',
    putFile(path: string, content: Buffer, mode: number): void {
      nodes.set(path, { kind: 'file', data: content, mode })
    }
  }
}

function describe(node: FakeNode | undefined): RemoteStat | undefined {
  if (node === undefined) return undefined
  return {
    size: node.kind === 'file' ? node.data.length : 0,
    mode: node.kind === 'file' ? node.mode : 0o755,
    isFile: node.kind === 'file',
    isDirectory: node.kind === 'dir',
    isSymbolicLink: node.kind === 'link'
  }
}

interface ConnectionParts {
  /** Paths as the shell resolves them. */
  readonly fs: FileSystem
  /** Paths as the SFTP server resolves them. */
  readonly sftpFs: FileSystem
  readonly ops: string[]
  readonly commands: 'shell' | 'no-tar' | 'refused'
  readonly home: string
  readonly host: FakeHost
  readonly options: FakeHostOptions
}

/** One connection: every request after it has ended rejects with a ConnectionEndedError. */
function fakeConnection(parts: ConnectionParts): SshConnection {
  const state: { failure?: ConnectionEndedError } = {}
  const alive = (): void => {
    if (state.failure !== undefined) throw state.failure
  }
  const cut = (): ConnectionEndedError => {
    state.failure ??= new ConnectionEndedError(
      failure('connection-lost', 'fake: the connection was reset')
    )
    return state.failure
  }
  const refuse = (): ChannelRefusedError =>
    new ChannelRefusedError('fake: the server refused to run a command')
  const sftp = fakeSftp(parts, alive, cut)
  const sessions = { sftp: false, shells: 0 }
  const full = (): boolean =>
    (sessions.sftp ? 1 : 0) + sessions.shells >= (parts.options.maxSessions ?? 10)
  return {
    sftp: () => {
      parts.ops.push('sftp')
      return Promise.resolve().then(() => {
        alive()
        if (!sessions.sftp && full())
          throw new ChannelRefusedError('fake: the server refused the SFTP session')
        sessions.sftp = true
        return sftp
      })
    },
    forward: () => Promise.reject(new Error('fake: no jump hosts here')),
    exec: (command) =>
      Promise.resolve().then(() => {
        alive()
        parts.ops.push(`exec ${command}`)
        if (parts.commands === 'refused') throw refuse()
        return runCommand(parts, command)
      }),
    streamToCommand: async (command, input) => {
      alive()
      parts.ops.push(`stream ${command}`)
      if (parts.commands === 'refused') throw refuse()
      const bytes = await collect(input)
      if (parts.commands === 'no-tar')
        return { code: 127, signal: undefined, stdout: '', stderr: 'sh: tar: not found\n' }
      const stage = quotedArguments(command)[0] ?? ''
      extractTar(parts.fs, stage, bytes.subarray('go\n'.length))
      return { code: 0, signal: undefined, stdout: '', stderr: '' }
    },
    openCommandChannel: (command) =>
      Promise.resolve().then(() => {
        alive()
        parts.ops.push(`channel ${command}`)
        if (parts.commands === 'refused' || command !== 'sh -s' || full()) throw refuse()
        sessions.shells += 1
        return fakeShell(parts, alive, () => (sessions.shells -= 1))
      }),
    get failure() {
      return state.failure
    },
    close: () => {
      parts.ops.push('close')
      return Promise.resolve()
    }
  }
}

function runCommand(parts: ConnectionParts, command: string): ExecResult {
  const [path = ''] = quotedArguments(command)
  if (command.startsWith('rm -rf ')) {
    parts.fs.remove(parts.fs.canonical(path, false))
    return { code: 0, signal: undefined, stdout: '', stderr: '' }
  }
  if (command.startsWith('df -Pk '))
    return { code: 0, signal: undefined, stdout: dfOutput(parts).join('\n'), stderr: '' }
  return { code: 127, signal: undefined, stdout: '', stderr: 'sh: not found' }
}

function dfOutput(parts: ConnectionParts): string[] {
  const free = Math.floor((parts.options.freeBytes ?? 1024 ** 4) / 1024)
  return ['Filesystem 1024-blocks Used Available Capacity Mounted on', `/dev/fake 1 0 ${free} 0% /`]
}

function fakeSftp(parts: ConnectionParts, alive: () => void, cut: () => Error): SftpSession {
  const { sftpFs: fs, ops } = parts
  const nodes = parts.host.nodes
  const handles = new Map<string, string>()
  const writing = { now: 0 }
  let nextHandle = 0
  const request = <T>(op: string, run: () => T): Promise<T> =>
    Promise.resolve().then(() => {
      alive()
      ops.push(op)
      return run()
    })
  const pathOf = (handle: Buffer): string => {
    const path = handles.get(handle.toString())
    if (path === undefined) throw failure('remote-failure', 'fake: no such handle')
    return path
  }
  return {
    maxWriteLength: 261_120,
    maxReadLength: 261_120,
    hasPosixRename: parts.options.posixRename ?? true,
    hasHardlink: true,
    stat: (path) => request(`stat ${path}`, () => describe(nodes.get(fs.canonical(path, true)))),
    lstat: (path) => request(`lstat ${path}`, () => describe(nodes.get(fs.canonical(path, false)))),
    readdir: (path) =>
      request(`readdir ${path}`, () => {
        const at = fs.canonical(path, true)
        if (nodes.get(at)?.kind !== 'dir')
          throw failure('no-such-path', `readdir ${path}: No such file`)
        const prefix = at === '/' ? '/' : `${at}/`
        return [...nodes]
          .filter(
            ([inside]) =>
              inside.startsWith(prefix) &&
              !inside.slice(prefix.length).includes('/') &&
              inside !== at
          )
          .map(([inside, node]) => ({
            name: inside.slice(prefix.length),
            stat: describe(node) as NonNullable<ReturnType<typeof describe>>
          }))
      }),
    readlink: (path) =>
      request(`readlink ${path}`, () => {
        const node = nodes.get(fs.canonical(path, false))
        if (node?.kind !== 'link') throw failure('remote-failure', `readlink ${path}: not a link`)
        return node.target
      }),
    symlink: (target, linkPath) =>
      request(`symlink ${target} ${linkPath}`, () => {
        const at = fs.canonical(linkPath, false)
        if (nodes.has(at)) throw failure('remote-failure', `symlink ${linkPath}: Failure`)
        nodes.set(at, { kind: 'link', target })
      }),
    mkdir: (path) =>
      request(`mkdir ${path}`, () => {
        const at = fs.canonical(path, false)
        if (nodes.has(at)) throw failure('remote-failure', `mkdir ${path}: Failure`)
        if (!fs.parentIsDirectory(at)) throw failure('no-such-path', `mkdir ${path}: No such file`)
        nodes.set(at, { kind: 'dir' })
      }),
    realpath: (path) =>
      request(`realpath ${path}`, () => {
        const at = fs.canonical(path, true)
        if (!nodes.has(at)) throw failure('no-such-path', `realpath ${path}: No such file`)
        return at
      }),
    open: (path, flags, mode) =>
      request(`open ${flags} ${path}`, () => {
        const at = fs.canonical(path, true)
        const node = nodes.get(at)
        if (flags === 'wx' && node !== undefined)
          throw failure('remote-failure', `open ${path}: Failure`)
        if (flags === 'w' || flags === 'wx') {
          if (!fs.parentIsDirectory(at)) throw failure('no-such-path', `open ${path}: No such file`)
          if (node?.kind === 'dir') throw failure('remote-failure', `open ${path}: Failure`)
          nodes.set(at, { kind: 'file', data: Buffer.alloc(0), mode: mode ?? 0o644 })
        } else if (node?.kind !== 'file')
          throw failure('no-such-path', `open ${path}: No such file`)
        nextHandle += 1
        handles.set(String(nextHandle), at)
        return Buffer.from(String(nextHandle))
      }),
    write: async (handle, data, length, position) => {
      writing.now += 1
      parts.host.maxWritesInFlight = Math.max(parts.host.maxWritesInFlight, writing.now)
      await new Promise((resolve) => setTimeout(resolve, parts.options.writeDelayMs ?? 0))
      writing.now -= 1
      return request(`write ${handles.get(handle.toString()) ?? '?'} ${position}`, () => {
        const path = pathOf(handle)
        // Faults go to the deploy's files, not to its lock.
        const fault = path.includes('/.deploy.lock')
          ? undefined
          : parts.host.onWrite?.(path, position)
        if (fault === 'cut') throw cut()
        if (fault === 'fail') throw failure('remote-failure', `write ${path}: Failure`)
        const node = nodes.get(path)
        if (node?.kind !== 'file') throw failure('no-such-path', `write ${path}: gone`)
        const bytes = Buffer.from(data.subarray(0, length))
        if (fault === 'corrupt') bytes[0] = (bytes[0] ?? 0) ^ 0xff
        const grown = Buffer.alloc(Math.max(node.data.length, position + length))
        node.data.copy(grown)
        bytes.copy(grown, position)
        node.data = grown
      })
    },
    read: (handle, into, length, position) =>
      request('read', () => {
        const node = nodes.get(pathOf(handle))
        if (node?.kind !== 'file') throw failure('no-such-path', 'read: gone')
        if (position >= node.data.length) return 0
        return node.data.copy(into, 0, position, Math.min(node.data.length, position + length))
      }),
    close: (handle) => request('close-handle', () => void handles.delete(handle.toString())),
    posixRename: (from, to) =>
      request(`rename ${from} ${to}`, () => {
        const source = fs.canonical(from, false)
        const destination = fs.canonical(to, false)
        const node = nodes.get(source)
        const there = nodes.get(destination)
        if (node === undefined) throw failure('no-such-path', `rename ${from}: No such file`)
        if (there?.kind === 'dir' && (node.kind !== 'dir' || fs.below(destination).length > 0))
          throw failure('remote-failure', `rename ${from} ${to}: Failure`)
        for (const inside of fs.below(source)) {
          nodes.set(destination + inside.slice(source.length), nodes.get(inside) as FakeNode)
          nodes.delete(inside)
        }
        nodes.delete(source)
        nodes.set(destination, node)
      }),
    rename: (from, to) =>
      request(`plain-rename ${from} ${to}`, () => {
        // OpenSSH's: link, then unlink; refused where `to` exists.
        const source = fs.canonical(from, false)
        const destination = fs.canonical(to, false)
        const node = nodes.get(source)
        if (node === undefined) throw failure('no-such-path', `rename ${from}: No such file`)
        if (nodes.has(destination)) throw failure('remote-failure', `rename ${from} ${to}: Failure`)
        nodes.delete(source)
        nodes.set(destination, node)
      }),
    hardlink: (from, to) =>
      request(`hardlink ${from} ${to}`, () => {
        const node = nodes.get(fs.canonical(from, false))
        const destination = fs.canonical(to, false)
        if (node === undefined) throw failure('no-such-path', `hardlink ${from}: No such file`)
        if (nodes.has(destination)) throw failure('remote-failure', `hardlink ${to}: Failure`)
        nodes.set(destination, node)
      }),
    unlink: (path) =>
      request(`unlink ${path}`, () => {
        const at = fs.canonical(path, false)
        const node = nodes.get(at)
        if (node === undefined) throw failure('no-such-path', `unlink ${path}: No such file`)
        if (node.kind === 'dir') throw failure('remote-failure', `unlink ${path}: Failure`)
        nodes.delete(at)
      }),
    rmdir: (path) =>
      request(`rmdir ${path}`, () => {
        const at = fs.canonical(path, false)
        if (nodes.get(at)?.kind !== 'dir' || fs.below(at).length > 0)
          throw failure('remote-failure', `rmdir ${path}: Failure`)
        nodes.delete(at)
      }),
    statvfs: () =>
      request('statvfs', () => ({
        availableBytes: parts.options.freeBytes ?? 1024 ** 4,
        readOnly: false
      }))
  }
}

/** A hashing shell: `sh -s` reading our scripts, with sha256sum and (unless `no-tar`) tar. */
function fakeShell(parts: ConnectionParts, alive: () => void, ended: () => void): CommandChannel {
  const { fs, home } = parts
  const nodes = parts.host.nodes
  const state: { tarInto?: string; closed: boolean; answer?: (lines: string[]) => void } = {
    closed: false
  }
  const hashLine = (path: string): string => {
    const node = nodes.get(fs.canonical(posix.resolve(home, path), true))
    if (node?.kind !== 'file') return 'sfd-err'
    return `sfd-ok ${createHash('sha256').update(node.data).digest('hex')}  -`
  }
  const answer = (input: string): string[] | Promise<string[]> => {
    if (input === HASHER_PRELUDE)
      return ['sfd-boot fake-boot-id', `sfd-cwd ${home}`, 'sfd-hasher sha256sum']
    if (input.startsWith('for f in '))
      return quotedArguments(input.split('\n')[0] ?? '').map(hashLine)
    if (input.startsWith('if [ -e ')) return probeTarget(parts, quotedArguments(input)[0] ?? '')
    if (input.startsWith('{\nrm -rf ')) {
      state.tarInto = quotedArguments(input)[0] ?? ''
      return []
    }
    if (input === '' && state.tarInto !== undefined)
      return new Promise((resolve) => (state.answer = resolve))
    return []
  }
  return {
    request: (input) =>
      Promise.resolve().then(() => {
        alive()
        if (state.closed) throw failure('remote-failure', 'fake: the remote command ended')
        return answer(input)
      }),
    write: () => undefined,
    send: async (input) => {
      const bytes = await collect(input)
      const stage = state.tarInto ?? ''
      if (parts.commands === 'no-tar') {
        state.answer?.(['sfd-tar 127', 'sfd-o sh: tar: not found'])
        return
      }
      extractTar(fs, stage, bytes)
      state.answer?.(['sfd-tar 0'])
    },
    close: () => {
      if (!state.closed) ended()
      state.closed = true
    }
  }
}

/** targetProbeScript's answer: the target there, or made with the room df gives. */
function probeTarget(parts: ConnectionParts, target: string): string[] {
  const { fs } = parts
  if (parts.host.nodes.has(fs.canonical(target, false))) return ['sfd-probe there']
  fs.mkdirs(target)
  const base = fs.canonical(target, true)
  return ['sfd-probe made', `sfd-base ${base}`, ...dfOutput(parts).map((line) => `sfd-o ${line}`)]
}
