// An in-process ssh2 Server, for what a test OpenSSH cannot be set up to show without root:
// password authentication with a known password. Behind authentication it is as real as the
// rest: its SFTP subsystem is OpenSSH's own sftp-server process, and commands run in /bin/sh,
// both in the host's directory.

import { spawn } from 'node:child_process'
import { execFileSync } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { readFileSync } from 'node:fs'
import {
  createServer as createTcpServer,
  type AddressInfo,
  type Server as TcpServer,
  type Socket
} from 'node:net'
import { join } from 'node:path'
import ssh2 from 'ssh2'
import { fingerprintOf } from './sshd.js'
import { tempDir } from './temp.js'

const SFTP_SERVERS = [
  '/usr/lib/openssh/sftp-server',
  '/usr/libexec/openssh/sftp-server',
  '/usr/libexec/sftp-server'
]

export interface PasswordServer {
  readonly address: string
  readonly port: number
  readonly entry: string
  readonly home: string
  readonly knownHosts: string
  readonly fingerprint: string
  /** Authentication methods clients tried, in order (`publickey`, `password`, …). */
  readonly methodsTried: string[]
  stop(): Promise<void>
}

export async function startPasswordServer(options: {
  readonly address: string
  readonly user: string
  readonly password: string
}): Promise<PasswordServer> {
  const dir = tempDir('ssh2')
  const home = join(dir, 'home')
  execFileSync('mkdir', ['-p', home])
  const keyPath = join(dir, 'host_ed25519')
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', '', '-f', keyPath])
  const publicLine = readFileSync(`${keyPath}.pub`, 'utf8').trim()
  const sftpServer = SFTP_SERVERS.find((path) => {
    try {
      execFileSync('test', ['-x', path])
      return true
    } catch {
      return false
    }
  })
  if (sftpServer === undefined) throw new Error('sftp-server not found; install openssh-server')

  const methodsTried: string[] = []
  const sockets = new Set<Socket>()
  const server = new ssh2.Server({ hostKeys: [readFileSync(keyPath)] }, (client) => {
    client.on('error', () => undefined)
    client.on('authentication', (context) => {
      methodsTried.push(context.method)
      if (
        context.method === 'password' &&
        context.username === options.user &&
        context.password === options.password
      )
        context.accept()
      else context.reject(['publickey', 'password'])
    })
    client.on('session', (acceptSession) => {
      const session = acceptSession()
      session.on('subsystem', (accept, reject, info) => {
        if (info.name !== 'sftp') {
          reject()
          return
        }
        const channel = accept()
        const child = spawn(sftpServer, [], { cwd: home, stdio: ['pipe', 'pipe', 'ignore'] })
        channel.pipe(child.stdin)
        child.stdout.pipe(channel)
        child.on('exit', () => channel.close())
        channel.on('close', () => child.kill())
      })
      session.on('exec', (accept, _reject, info) => {
        const channel = accept()
        const child = spawn('/bin/sh', ['-c', info.command], {
          cwd: home,
          stdio: ['pipe', 'pipe', 'pipe']
        })
        channel.pipe(child.stdin)
        child.stdout.pipe(channel, { end: false })
        child.stderr.pipe(channel.stderr, { end: false })
        child.on('close', (code) => {
          channel.exit(code ?? 1)
          channel.end()
        })
      })
    })
  })
  const tcp = (server as unknown as { _srv: TcpServer })._srv
  tcp.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, options.address, () => resolve()))
  const port = (server.address() as AddressInfo).port
  return {
    address: options.address,
    port,
    entry: `${options.address}:${port}`,
    home,
    knownHosts: `[${options.address}]:${port} ${publicLine.split(/\s+/).slice(0, 2).join(' ')}`,
    fingerprint: fingerprintOf(publicLine),
    methodsTried,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
  }
}

/** A known_hosts line with a fresh ed25519 key, for a host that never gets as far as showing one. */
function throwawayKnownHostsLine(address: string, port: number): string {
  const { publicKey } = generateKeyPairSync('ed25519')
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url')
  const sshString = (data: Buffer): Buffer => {
    const length = Buffer.alloc(4)
    length.writeUInt32BE(data.length)
    return Buffer.concat([length, data])
  }
  const blob = Buffer.concat([sshString(Buffer.from('ssh-ed25519')), sshString(raw)])
  return `[${address}]:${port} ssh-ed25519 ${blob.toString('base64')}`
}

export interface SilentListener {
  readonly port: number
  readonly entry: string
  /** A known_hosts line for it (never checked: it never sends a key). */
  readonly knownHosts: string
  stop(): Promise<void>
}

/** A TCP listener that accepts connections and never says a word (no SSH banner). */
export async function startSilentListener(address: string): Promise<SilentListener> {
  const sockets = new Set<Socket>()
  const server = createTcpServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => undefined)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, address, () => resolve()))
  const port = (server.address() as AddressInfo).port
  return {
    port,
    entry: `${address}:${port}`,
    knownHosts: throwawayKnownHostsLine(address, port),
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
  }
}
