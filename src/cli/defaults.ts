// What a person at a terminal expects where the action would need an input: keys from
// ssh-agent and ~/.ssh, host keys from ~/.ssh/known_hosts, their own user name, and an
// inventory file read wherever it is. Host keys still fail closed.

import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { InputName } from '../action/inputs.js'
import { loadPrivateKey } from '../config/private-key.js'
import { isInventoryText } from '../config/inventory.js'
import { errorMessage } from '../errors.js'
import { UsageError } from './args.js'

/** The keys OpenSSH tries by default, in its order (of those ssh2 can use). */
export const DEFAULT_KEY_FILES = ['id_ed25519', 'id_ecdsa', 'id_rsa'] as const

export interface TerminalEnvironment {
  readonly home: string
  readonly cwd: string
  readonly user: string
  /** SSH_AUTH_SOCK, where set. */
  readonly agentSocket: string | undefined
}

export interface TerminalRun {
  /** The inputs, with the terminal's defaults filled in. */
  readonly inputs: Map<InputName, string>
  /** The ssh-agent to try first, where no key was given. */
  readonly agent: string | undefined
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

/** The first default key that loads without a passphrase (or with the one given). */
function defaultKeyFile(home: string, passphrase: string | undefined): string | undefined {
  for (const name of DEFAULT_KEY_FILES) {
    const path = join(home, '.ssh', name)
    if (!existsSync(path)) continue
    try {
      loadPrivateKey(readFileSync(path, 'utf8'), passphrase)
      return path
    } catch {
      // Encrypted without the passphrase, or a type ssh2 cannot use: the agent may hold it.
    }
  }
  return undefined
}

function fillCredentials(
  inputs: Map<InputName, string>,
  env: TerminalEnvironment,
  notes: string[]
): string | undefined {
  if ((inputs.get('key') ?? '') !== '' || (inputs.get('key-path') ?? '') !== '') return undefined
  const agent = env.agentSocket === '' ? undefined : env.agentSocket
  const keyFile = defaultKeyFile(env.home, inputs.get('passphrase'))
  if (keyFile !== undefined) inputs.set('key-path', keyFile)
  const used = [
    ...(agent === undefined ? [] : ['ssh-agent']),
    ...(keyFile === undefined ? [] : [keyFile])
  ]
  if (used.length > 0) notes.push(`keys: ${used.join(', then ')}`)
  return agent
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
  inputs.set('known-hosts', readText(path, 'known_hosts'))
  notes.push(`host keys: ${path}`)
  return path
}

/** An inventory naming a file anywhere (the action limits it to the workspace): its text. */
function fillInventory(inputs: Map<InputName, string>, env: TerminalEnvironment): void {
  const value = inputs.get('inventory') ?? ''
  if (value === '' || isInventoryText(value)) return
  const path = resolve(env.cwd, value)
  if (existsSync(path)) inputs.set('inventory', readText(path, '--inventory'))
}

export function applyTerminalDefaults(
  given: ReadonlyMap<InputName, string>,
  knownHostsFiles: readonly string[],
  env: TerminalEnvironment
): TerminalRun {
  const inputs = new Map(given)
  const notes: string[] = []
  const agent = fillCredentials(inputs, env, notes)
  const knownHostsSource = fillKnownHosts(inputs, knownHostsFiles, env, notes)
  fillInventory(inputs, env)
  if ((inputs.get('username') ?? '') === '') inputs.set('username', env.user)
  return { inputs, agent, knownHostsSource, notes }
}
