import { describe, expect, test } from 'vitest'
import { classifyConnectError, classifySftpError, SFTP_STATUS } from '../../src/ssh/classify.js'

function withFields(message: string, fields: Record<string, unknown>): Error {
  return Object.assign(new Error(message), fields)
}

describe('what the message says', () => {
  test('a refused connection says so in words, keeping the code', () => {
    const error = classifyConnectError(
      withFields('connect ECONNREFUSED 127.0.0.1:2222', {
        level: 'client-socket',
        code: 'ECONNREFUSED'
      }),
      'deploy@127.0.0.1:2222'
    )
    expect(error.message).toBe(
      'deploy@127.0.0.1:2222: connection refused: nothing listens at that address and port (connect ECONNREFUSED 127.0.0.1:2222)'
    )
  })
})

describe('what is worth a retry', () => {
  test.each([
    [
      withFields('connect ECONNREFUSED', { level: 'client-socket', code: 'ECONNREFUSED' }),
      'network',
      true
    ],
    [
      withFields('read ECONNRESET', { level: 'client-socket', code: 'ECONNRESET' }),
      'network',
      true
    ],
    [
      withFields('Timed out while waiting for handshake', { level: 'client-timeout' }),
      'timeout',
      true
    ],
    [
      withFields('All configured authentication methods failed', {
        level: 'client-authentication'
      }),
      'auth',
      false
    ],
    [withFields('Handshake failed: no matching cipher', { level: 'handshake' }), 'protocol', false],
    [withFields('Connection lost before handshake', { level: 'protocol' }), 'connection-lost', true]
  ])('connect error %s', (error, kind, retryable) => {
    const classified = classifyConnectError(error, 'u@h:22')
    expect(classified.kind).toBe(kind)
    expect(classified.retryable).toBe(retryable)
    expect(classified.cause).toBe(error)
  })

  test.each([
    [SFTP_STATUS.NO_SUCH_FILE, 'no-such-path', false],
    [SFTP_STATUS.PERMISSION_DENIED, 'permission', false],
    [SFTP_STATUS.FAILURE, 'remote-failure', false],
    [SFTP_STATUS.OP_UNSUPPORTED, 'protocol', false],
    [SFTP_STATUS.CONNECTION_LOST, 'connection-lost', true],
    [SFTP_STATUS.NO_CONNECTION, 'connection-lost', true]
  ])('SFTP status %d', (code, kind, retryable) => {
    const classified = classifySftpError(withFields('x', { code }), 'open', '/srv/a')
    expect(classified.kind).toBe(kind)
    expect(classified.retryable).toBe(retryable)
    expect(classified.message).toContain("'/srv/a'")
  })

  test('a full disk says what it may be', () => {
    expect(classifySftpError(withFields('Failure', { code: 4 }), 'write', '/x').message).toMatch(
      /disk may be full/
    )
  })
})
