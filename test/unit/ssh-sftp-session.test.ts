import { EventEmitter } from 'node:events'
import { afterEach, describe, expect, test } from 'vitest'
import { ChannelRefusedError } from '../../src/errors.js'
import { SFTP_STATUS, sftpStartError } from '../../src/ssh/classify.js'
import { RequestTracker } from '../../src/ssh/request-tracker.js'
import { SftpSessionSlot } from '../../src/ssh/sftp-session.js'
import type { Client, SFTPWrapper } from '../../src/ssh/ssh2.js'

const trackers: RequestTracker[] = []
afterEach(() => {
  for (const tracker of trackers.splice(0)) tracker.stop()
})

type Answer = (path: string) => { error?: { code: number; message: string }; value?: unknown }

const statusError = (code: number, message: string): { code: number; message: string } =>
  Object.assign(new Error(message), { code })

/** An SFTPWrapper that answers every request with `answer(path)`. */
class FakeSftp extends EventEmitter {
  readonly _maxWriteLen = 261_120
  readonly _maxReadLen = 0
  readonly _extensions: Record<string, string>
  ended = false

  constructor(
    extensions: string[],
    readonly answer: Answer
  ) {
    super()
    this._extensions = Object.fromEntries(extensions.map((name) => [name, '1']))
  }

  #reply(path: string, callback: (error: unknown, value?: unknown) => void): void {
    const { error, value } = this.answer(path)
    setImmediate(() => callback(error, value))
  }

  stat(path: string, callback: (error: unknown, value?: unknown) => void): void {
    this.#reply(path, callback)
  }

  lstat(path: string, callback: (error: unknown, value?: unknown) => void): void {
    this.#reply(path, callback)
  }

  read(
    _handle: Buffer,
    _into: Buffer,
    _offset: number,
    _length: number,
    position: number,
    callback: (error: unknown, value?: unknown) => void
  ): void {
    this.#reply(String(position), callback)
  }

  ext_openssh_statvfs(path: string, callback: (error: unknown, value?: unknown) => void): void {
    this.#reply(path, callback)
  }

  end(): void {
    this.ended = true
    setImmediate(() => this.emit('close'))
  }
}

const fileStats = {
  size: 3,
  mode: 0o100644,
  isFile: () => true,
  isDirectory: () => false,
  isSymbolicLink: () => false
}

/** A slot over a client whose SFTP requests get `sessions` in turn (an Error: refused). */
function slot(sessions: (FakeSftp | Error)[]) {
  const requests = new RequestTracker('deploy@web:22', () => undefined)
  trackers.push(requests)
  const client = {
    sftp: (callback: (error: Error | undefined, sftp?: SFTPWrapper) => void) => {
      const next = sessions.shift()
      setImmediate(() =>
        next instanceof Error ? callback(next) : callback(undefined, next as unknown as SFTPWrapper)
      )
    }
  }
  return {
    requests,
    sftp: new SftpSessionSlot(client as unknown as Client, requests, 'deploy@web:22', 60_000)
  }
}

describe('SFTP session', () => {
  test("takes the server's limits and extensions", async () => {
    const { sftp } = slot([new FakeSftp(['posix-rename@openssh.com'], () => ({}))])
    const session = await sftp.session()
    expect(session).toMatchObject({
      maxWriteLength: 261_120,
      maxReadLength: 32 * 1024,
      hasPosixRename: true
    })
    await expect(session.statvfs('/srv')).resolves.toBeUndefined()
  })

  test('stat and lstat: nothing there is undefined, any other error is classified', async () => {
    const fake = new FakeSftp([], (path) =>
      path === '/srv/a'
        ? { value: fileStats }
        : path === '/srv/missing'
          ? { error: statusError(SFTP_STATUS.NO_SUCH_FILE, 'No such file') }
          : { error: statusError(SFTP_STATUS.PERMISSION_DENIED, 'Permission denied') }
    )
    const session = await slot([fake]).sftp.session()
    for (const operation of ['stat', 'lstat'] as const) {
      const stat = (path: string) => session[operation](path)
      await expect(stat('/srv/a')).resolves.toEqual({
        size: 3,
        mode: 0o100644,
        isFile: true,
        isDirectory: false,
        isSymbolicLink: false
      })
      await expect(stat('/srv/missing')).resolves.toBeUndefined()
    }
    await expect(session.stat('/root')).rejects.toThrow("stat '/root': permission denied")
    await expect(session.lstat('/root')).rejects.toThrow("lstat '/root': permission denied")
  })

  test('a read at the end of the file reads 0 bytes', async () => {
    const fake = new FakeSftp([], (position) =>
      position === '0' ? { value: 3 } : { error: statusError(SFTP_STATUS.EOF, 'End of file') }
    )
    const session = await slot([fake]).sftp.session()
    const into = Buffer.alloc(8)
    await expect(session.read(Buffer.from('h'), into, 8, 0)).resolves.toBe(3)
    await expect(session.read(Buffer.from('h'), into, 8, 3)).resolves.toBe(0)
  })

  test("statvfs: the space an unprivileged writer may use, and whether it's read-only", async () => {
    const fake = new FakeSftp(['statvfs@openssh.com'], () => ({
      value: { f_bavail: 10, f_frsize: 4096, f_bsize: 512, f_flag: 1 }
    }))
    const session = await slot([fake]).sftp.session()
    await expect(session.statvfs('/srv')).resolves.toEqual({
      availableBytes: 40_960,
      readOnly: true
    })
  })

  test('a refused session is asked for again; an open one is kept', async () => {
    const fake = new FakeSftp([], () => ({}))
    const { sftp } = slot([new Error('open failed'), fake])
    await expect(sftp.session()).rejects.toBeInstanceOf(ChannelRefusedError)
    const session = await sftp.session()
    expect(await sftp.session()).toBe(session)
  })

  test('the session ending before the connection closes fails the connection', async () => {
    const fake = new FakeSftp([], () => ({}))
    const { sftp, requests } = slot([fake])
    await sftp.session()
    fake.emit('close')
    expect(requests.failure?.message).toBe('deploy@web:22: the SFTP session ended')
  })

  test('ended as the connection closes, it is no failure', async () => {
    const fake = new FakeSftp([], () => ({}))
    const { sftp, requests } = slot([fake])
    expect(sftp.end()).toBeUndefined()
    await sftp.session()
    await sftp.end()
    expect(fake.ended).toBe(true)
    expect(requests.failure).toBeUndefined()
  })

  test('text before the SFTP protocol is named as a chatty login shell', () => {
    const error = Object.assign(new Error('Packet length 1701013615 exceeds max length'), {
      level: 'sftp-protocol'
    })
    expect(sftpStartError(error, 'deploy@web:22').message).toMatch(
      /^deploy@web:22: the SFTP session began with text \('echo…'\) instead of the SFTP protocol: .*\("Received message too long 1701013615"\)$/
    )
  })
})
