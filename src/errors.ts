// Typed errors. Every failure the action reports is a DeployError whose `kind` decides whether a
// retry can help (`retryable`) and whose message is one line a user can act on.

export const ERROR_KINDS = [
  'input',
  'host-key',
  'auth',
  'network',
  'timeout',
  'connection-lost',
  'permission',
  'no-such-path',
  'disk-full',
  'remote-failure',
  'verify-mismatch',
  'protocol',
  'local-file',
  'delete-limit',
  'locked',
  'release',
  'script',
  'health-check',
  'aborted'
] as const
export type ErrorKind = (typeof ERROR_KINDS)[number]

// Only failures of the network or of timing are worth another attempt: a wrong key, a wrong
// host key, a read-only directory or a full disk fail the same way every time.
const RETRYABLE: ReadonlySet<ErrorKind> = new Set<ErrorKind>([
  'network',
  'timeout',
  'connection-lost',
  'verify-mismatch'
])

export interface DeployErrorOptions {
  cause?: unknown
}

export class DeployError extends Error {
  readonly kind: ErrorKind

  constructor(kind: ErrorKind, message: string, options: DeployErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'DeployError'
    this.kind = kind
  }

  get retryable(): boolean {
    return RETRYABLE.has(this.kind)
  }
}

/** An input that cannot be used; raised before any connection is made. */
export class InputError extends DeployError {
  readonly input: string
  /** What is wrong, without the input's name. */
  readonly problem: string

  constructor(input: string, problem: string, options: DeployErrorOptions = {}) {
    super('input', `Input '${input}': ${problem}`, options)
    this.name = 'InputError'
    this.input = input
    this.problem = problem
  }
}

/** The server's host key is not one the workflow trusts. Never retried. */
export class HostKeyError extends DeployError {
  readonly keyType: string
  readonly fingerprint: string

  constructor(message: string, keyType: string, fingerprint: string) {
    super('host-key', message)
    this.name = 'HostKeyError'
    this.keyType = keyType
    this.fingerprint = fingerprint
  }
}

/**
 * The server refused to open a channel (a session, an exec, a subsystem): forbidden, or no
 * session left (MaxSessions). It may be granted later, or the work may go another way.
 */
export class ChannelRefusedError extends DeployError {
  constructor(message: string, options: DeployErrorOptions = {}) {
    super('protocol', message, options)
    this.name = 'ChannelRefusedError'
  }
}

/**
 * The connection an operation needed has ended (lost, stalled, timed out, cancelled): nothing
 * more can be done over it, so no fallback is tried. Its kind is its cause's, which says
 * whether another attempt may help. Every request over a connection that has ended rejects
 * with one of these: the one signal that an attempt is over.
 */
export class ConnectionEndedError extends DeployError {
  constructor(cause: DeployError) {
    super(cause.kind, cause.message, { cause })
    this.name = 'ConnectionEndedError'
  }
}

/** Whether `error` says the connection has ended (see ConnectionEndedError). */
export function isConnectionEnded(error: unknown): error is ConnectionEndedError {
  return error instanceof ConnectionEndedError
}

/** A local file (the runner's) that cannot be read. */
export function localFileError(path: string, error: unknown): DeployError {
  return new DeployError('local-file', `cannot read '${path}': ${String(error)}`, { cause: error })
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}

/** One line, for annotations, outputs and the summary table. */
export function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim()
}
