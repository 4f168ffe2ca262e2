// Turns what ssh2, the socket layer and SFTP report into DeployErrors whose kind decides retry.
// ssh2 marks connection errors with `level` (client-socket, client-timeout,
// client-authentication, handshake, protocol) and SFTP errors with a numeric status `code`.

import { ChannelRefusedError, DeployError, errorMessage, type ErrorKind } from '../errors.js'

/** SFTP status codes (draft-ietf-secsh-filexfer-02, the version OpenSSH speaks). */
export const SFTP_STATUS = {
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  OP_UNSUPPORTED: 8
} as const

// Socket errors that another attempt may not meet: the network, not the request, failed.
const TRANSIENT_SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTDOWN',
  'EAI_AGAIN',
  'ENOTCONN',
  'ERR_SOCKET_CLOSED',
  'ERR_STREAM_PREMATURE_CLOSE'
])

function field(error: unknown, name: string): unknown {
  if (typeof error !== 'object' || error === null) return undefined
  return (error as Record<string, unknown>)[name]
}

/** Classifies an error raised while connecting (before the session is ready). */
export function classifyConnectError(error: unknown, where: string): DeployError {
  if (error instanceof DeployError) return error
  const level = field(error, 'level')
  const code = field(error, 'code')
  const message = errorMessage(error)
  const make = (kind: ErrorKind, text: string): DeployError =>
    new DeployError(kind, text, { cause: error })

  if (level === 'client-authentication')
    return make(
      'auth',
      `authentication failed on ${where}: the server accepted none of the credentials given (${message})`
    )
  if (level === 'client-timeout')
    return make(
      'timeout',
      message === 'Keepalive timeout'
        ? `${where}: the server stopped answering SSH keepalives; the connection is dead`
        : `${where}: ${message}`
    )
  if (level === 'client-dns' || code === 'ENOTFOUND')
    return make('network', `cannot resolve ${where}: ${message}`)
  if (code === 'ECONNREFUSED')
    return make(
      'network',
      `${where}: connection refused: nothing listens at that address and port (${message})`
    )
  if (typeof code === 'string' && TRANSIENT_SOCKET_CODES.has(code))
    return make('network', `${where}: ${message}`)
  if (level === 'handshake' || level === 'protocol') {
    if (/no matching/i.test(message))
      return make('protocol', `${where}: no SSH algorithm both sides accept (${message})`)
    // A server that drops a handshake (MaxStartups, a restarting daemon) may accept the next.
    return make('connection-lost', `${where}: SSH handshake failed: ${message}`)
  }
  if (level === 'client-socket') return make('network', `${where}: ${message}`)
  return make('connection-lost', `${where}: ${message}`)
}

/**
 * Classifies a failed SFTP request. `FAILURE` is what OpenSSH's sftp-server answers for ENOSPC,
 * EDQUOT, EROFS and EEXIST alike: it is not retried, and the caller can refine the message.
 */
export function classifySftpError(error: unknown, operation: string, path: string): DeployError {
  if (error instanceof DeployError) return error
  const code = field(error, 'code')
  const message = errorMessage(error)
  const make = (kind: ErrorKind, text: string): DeployError =>
    new DeployError(kind, text, { cause: error })
  switch (code) {
    case SFTP_STATUS.NO_SUCH_FILE:
      return make('no-such-path', `${operation} '${path}': no such file or directory`)
    case SFTP_STATUS.PERMISSION_DENIED:
      return make('permission', `${operation} '${path}': permission denied`)
    case SFTP_STATUS.FAILURE:
      return make(
        'remote-failure',
        `${operation} '${path}' failed on the server (${message}): the disk may be full, over quota or read-only`
      )
    case SFTP_STATUS.OP_UNSUPPORTED:
      return make('protocol', `${operation} '${path}': the server does not support this operation`)
    case SFTP_STATUS.NO_CONNECTION:
    case SFTP_STATUS.CONNECTION_LOST:
      return make('connection-lost', `${operation} '${path}': connection lost (${message})`)
    default:
      if (typeof code === 'string' && TRANSIENT_SOCKET_CODES.has(code))
        return make('network', `${operation} '${path}': ${message}`)
      if (/no response|not connected|closed|ended/i.test(message))
        return make('connection-lost', `${operation} '${path}': ${message}`)
      return make('remote-failure', `${operation} '${path}': ${message}`)
  }
}

/**
 * Why an SFTP session did not start. Text before the SFTP protocol's first packet (a login shell
 * that prints a banner) reads as an absurd packet length, which OpenSSH's sftp reports as
 * "Received message too long": that is no refusal, and asking again gets the same text.
 */
export function sftpStartError(error: Error, label: string): DeployError {
  const level = (error as { level?: unknown }).level
  const length = /Packet length (\d+) exceeds/.exec(error.message)?.[1]
  if (level === 'sftp-protocol' && length !== undefined) {
    const head = Buffer.alloc(4)
    head.writeUInt32BE(Number(length) >>> 0)
    const text = head.toString('latin1').replace(/[^\x20-\x7e]/g, '.')
    return new DeployError(
      'protocol',
      `${label}: the SFTP session began with text ('${text}…') instead of the SFTP protocol: the account's shell prints output for non-interactive sessions (a banner or echo in ~/.bashrc, say); make it quiet, as OpenSSH's sftp would say ("Received message too long ${length}")`,
      { cause: error }
    )
  }
  if (level === 'sftp-protocol')
    return new DeployError(
      'protocol',
      `${label}: the SFTP session failed as it started (${error.message})`,
      { cause: error }
    )
  return new ChannelRefusedError(
    `${label}: the server refused an SFTP session (${error.message})`,
    {
      cause: error
    }
  )
}
