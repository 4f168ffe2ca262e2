// The `host` input: `[user@]host[:port]` entries separated by newlines and/or commas, IPv6 as
// `[addr]` or `[addr]:port`. Pure; a bad entry is an InputError naming it.

import { InputError } from '../errors.js'

export interface HostTarget {
  /** Login user. */
  readonly user: string
  /** Host name or address as given (IPv6 without brackets). */
  readonly host: string
  readonly port: number
  /** `user@host:port` (`user@[v6]:port`): the host's name in logs, outputs and the summary. */
  readonly label: string
}

export interface HostDefaults {
  readonly port: number
  /** Undefined when the `username` input is empty. */
  readonly user: string | undefined
}

/** An entry of `host` (or the `username` it needs) that cannot be used: an input error. */
export class HostListError extends InputError {
  constructor(input: 'host' | 'username', problem: string) {
    super(input, problem)
    this.name = 'HostListError'
  }
}

export function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined
  const port = Number(text)
  return port >= 1 && port <= 65535 ? port : undefined
}

export function formatHostLabel(user: string, host: string, port: number): string {
  const shown = host.includes(':') ? `[${host}]` : host
  return `${user}@${shown}:${port}`
}

/** One `[user@]host[:port]` entry; `defaults` fill in what it does not say. */
export function parseHostEntry(entry: string, defaults: HostDefaults): HostTarget {
  let rest = entry
  let user = defaults.user
  const at = rest.lastIndexOf('@')
  if (at !== -1) {
    user = rest.slice(0, at)
    rest = rest.slice(at + 1)
    if (user === '')
      throw new HostListError('host', `entry '${entry}' has an empty user before '@'`)
  }

  let host: string
  let port = defaults.port
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']')
    if (close === -1) throw new HostListError('host', `entry '${entry}' has '[' without ']'`)
    host = rest.slice(1, close)
    const after = rest.slice(close + 1)
    if (after !== '') {
      const parsed = after.startsWith(':') ? parsePort(after.slice(1)) : undefined
      if (parsed === undefined)
        throw new HostListError('host', `entry '${entry}' has an invalid port '${after.slice(1)}'`)
      port = parsed
    }
  } else if (rest.split(':').length > 2) {
    // More than one colon and no brackets: an IPv6 address without a port.
    host = rest
  } else {
    const colon = rest.indexOf(':')
    host = colon === -1 ? rest : rest.slice(0, colon)
    if (colon !== -1) {
      const parsed = parsePort(rest.slice(colon + 1))
      if (parsed === undefined)
        throw new HostListError(
          'host',
          `entry '${entry}' has an invalid port '${rest.slice(colon + 1)}' (1-65535)`
        )
      port = parsed
    }
  }

  if (host === '') throw new HostListError('host', `entry '${entry}' names no host`)
  if (/[\s/\\@[\]]/.test(host))
    throw new HostListError('host', `entry '${entry}' is not a valid host name or address`)
  if (user === undefined)
    throw new HostListError(
      'username',
      `no user for host '${entry}': set 'username' or write the entry as user@${entry}`
    )
  if (/[\s:]/.test(user) || user.includes('\0'))
    throw new HostListError('host', `entry '${entry}' has an invalid user name '${user}'`)

  return { user, host, port, label: formatHostLabel(user, host, port) }
}

export function parseHostList(text: string, defaults: HostDefaults): HostTarget[] {
  const entries = text
    .split(/[\n,]/)
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
  if (entries.length === 0) throw new HostListError('host', 'is required and names no host')

  const seen = new Map<string, string>()
  const targets: HostTarget[] = []
  for (const entry of entries) {
    const target = parseHostEntry(entry, defaults)
    const key = target.label.toLowerCase()
    const earlier = seen.get(key)
    if (earlier !== undefined)
      throw new HostListError(
        'host',
        `'${entry}' duplicates '${earlier}' (both are ${target.label}); list each host once`
      )
    seen.set(key, entry)
    targets.push(target)
  }
  return targets
}
