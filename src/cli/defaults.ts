// What a person at a terminal expects where the action would need an input: keys from
// ssh-agent and ~/.ssh, host keys from ~/.ssh/known_hosts, their own user name, and an
// inventory file read wherever it is. Host keys still fail closed.

import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { InputName } from '../action/inputs.js'
import { loadPrivateKey } from '../config/private-key.js'
import { isInventoryText } from '../config/inventory.js'
import { parseKnownHosts } from '../config/known-hosts.js'
import { errorMessage, InputError } from '../errors.js'
import { UsageError } from './args.js'

/** The keys OpenSSH tries by default, in its order (of those ssh2 can use). */
export const DEFAULT_KEY_FILES = ['id_ed25519', 'id_ecdsa', 'id_rsa'] as const

export interface TerminalEnvironment {
  readonly home: string
  readonly cwd: string
  /** The login name, where the system knows one. */
  readonly user: () => string | undefined
  /** SSH_AUTH_SOCK, where set. */
  readonly agentSocket: string | undefined
}

export interface TerminalRun {
  /** The inputs, with the terminal's defaults filled in. */
  readonly inputs: Map<InputName, string>
  /** The ssh-agent to try first, where no key was given. */
  readonly agent: string | undefined
  /** Then ~/.ssh's default keys that load, each tried in turn (none where a key was given). */
  readonly keyFiles: readonly string[]
  /** Where the run's host keys came from, for messages about the known-hosts input. */
  readonly knownHostsSource: string | undefined
  /** Lines worth telling the user: which defaults were taken. */
  readonly notes: readonly string[]
}

function readText(path: string, option: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (error) {
    throw new UsageError(`${option} '${path}': ${errorMessage(error)}`)
  }
}

/**
 * The default keys that load without a passphrase (or with the one given), in OpenSSH's order;
 * why any other was passed over goes to `notes` (the agent may hold it).
 */
function defaultKeyFiles(home: string, passphrase: string | undefined, notes: string[]): string[] {
  const usable: string[] = []
  for (const name of DEFAULT_KEY_FILES) {
    const path = join(home, '.ssh', name)
    if (!existsSync(path)) continue
    try {
      loadPrivateKey(readFileSync(path, 'utf8'), passphrase)
      usable.push(path)
    } catch (error) {
      const why =
        error instanceof InputError && error.input === 'passphrase'
          ? passphrase === undefined
            ? 'it is encrypted: give --passphrase, or add it to ssh-agent'
            : 'the passphrase does not decrypt it'
          : errorMessage(error)
      notes.push(`${path} not used: ${why}`)
    }
  }
  return usable
}

/**
 * ~/.ssh/known_hosts as OpenSSH reads a personal file: a line it cannot read is passed over
 * (and said), not the end of the run.
 */
function readableKnownHosts(text: string, path: string, notes: string[]): string {
  return text
    .split(/\r?\n/)
    .filter((line, index) => {
      try {
        parseKnownHosts(line)
        return true
      } catch (error) {
        notes.push(
          `${path} line ${index + 1} passed over: ${error instanceof InputError ? error.problem.replace(/^line \d+: /, '') : errorMessage(error)}`
        )
        return false
      }
    })
    .join('\n')
}

function fillCredentials(
  inputs: Map<InputName, string>,
  env: TerminalEnvironment,
  notes: string[]
): Pick<TerminalRun, 'agent' | 'keyFiles'> {
  if ((inputs.get('key') ?? '') !== '' || (inputs.get('key-path') ?? '') !== '')
    return { agent: undefined, keyFiles: [] }
  const agent = env.agentSocket === '' ? undefined : env.agentSocket
  const keyFiles = defaultKeyFiles(env.home, inputs.get('passphrase'), notes)
  const used = [...(agent === undefined ? [] : ['ssh-agent']), ...keyFiles]
  if (used.length > 0) notes.push(`keys: ${used.join(', then ')}`)
  return { agent, keyFiles }
}

/** `--known-hosts-file` files, else ~/.ssh/known_hosts where no host key option is given. */
function fillKnownHosts(
  inputs: Map<InputName, string>,
  files: readonly string[],
  env: TerminalEnvironment,
  notes: string[]
): string | undefined {
  const texts = files.map((file) => readText(resolve(env.cwd, file), '--known-hosts-file'))
  if (texts.length > 0) {
    inputs.set('known-hosts', [inputs.get('known-hosts') ?? '', ...texts].join('\n').trim())
    return `--known-hosts-file ${files.join(', ')}`
  }
  const given = (['known-hosts', 'fingerprint'] as const).some(
    (name) => (inputs.get(name) ?? '') !== ''
  )
  if (given || inputs.get('insecure-ignore-host-key') === 'true') return undefined
  const path = join(env.home, '.ssh', 'known_hosts')
  if (!existsSync(path)) return undefined
  inputs.set('known-hosts', readableKnownHosts(readText(path, 'known_hosts'), path, notes))
  notes.push(`host keys: ${path}`)
  return path
}

/** An inventory naming a file anywhere (the action limits it to the workspace): its text. */
function fillInventory(inputs: Map<InputName, string>, env: TerminalEnvironment): void {
  const value = inputs.get('inventory') ?? ''
  if (value === '' || isInventoryText(value)) return
  inputs.set('inventory', readText(resolve(env.cwd, value), '--inventory'))
}

export function applyTerminalDefaults(
  given: ReadonlyMap<InputName, string>,
  knownHostsFiles: readonly string[],
  env: TerminalEnvironment
): TerminalRun {
  const inputs = new Map(given)
  const notes: string[] = []
  const { agent, keyFiles } = fillCredentials(inputs, env, notes)
  const knownHostsSource = fillKnownHosts(inputs, knownHostsFiles, env, notes)
  fillInventory(inputs, env)
  if ((inputs.get('username') ?? '') === '') {
    const user = env.user()
    if (user === undefined)
      throw new UsageError('the system has no name for this user: give --username')
    inputs.set('username', user)
  }
  return { inputs, agent, keyFiles, knownHostsSource, notes }
}
