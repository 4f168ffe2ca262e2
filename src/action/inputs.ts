// Reads, normalises and validates every input into one typed Settings object, before anything
// connects. Each problem is an InputError that names the input and says what is wrong.
// Pure apart from `readFile` (for `key-path`), which the caller provides.

import {
  NO_FILES_MODES,
  VERIFY_MODES,
  type Credentials,
  type Settings
} from '../config/settings.js'
import { hostname } from 'node:os'
import * as nodePath from 'node:path'
import { parseDuration } from '../config/duration.js'
import { errorMessage, InputError } from '../errors.js'
import { parseFingerprint, type Fingerprint, type HostKeyPolicy } from '../config/host-key.js'
import { resolveDestinations } from '../config/destinations.js'
import { parseKeep } from '../config/keep.js'
import { parseHostList, parsePort } from '../config/host-list.js'
import { isInventoryText, parseInventory, type Inventory } from '../config/inventory.js'
import { parseKnownHosts, type KnownHostEntry } from '../config/known-hosts.js'
import { loadPrivateKey } from '../config/private-key.js'
import { normalizeTarget } from '../config/target.js'
import {
  checkHealthUrl,
  parseBatchSizes,
  parseMaxFailures,
  readScriptEnv,
  type RolloutSettings
} from '../config/rollout.js'
import {
  checkReleaseName,
  defaultReleaseName,
  parseSharedPaths,
  SWITCH_MODES,
  type ReleaseSettings
} from '../config/releases.js'
import type { PathFlavor } from '../local/plan.js'

export const INPUT_NAMES = [
  'host',
  'port',
  'username',
  'key',
  'key-path',
  'passphrase',
  'password',
  'known-hosts',
  'fingerprint',
  'insecure-ignore-host-key',
  'connect-timeout',
  'timeout',
  'source',
  'working-directory',
  'target',
  'strip-components',
  'if-no-files-found',
  'follow-symbolic-links',
  'max-parallel',
  'concurrency',
  'threads',
  'retries',
  'retry-delay',
  'verify',
  'atomic',
  'resume',
  'idle-timeout',
  'keepalive-interval',
  'preflight',
  'inventory',
  'select',
  'shard',
  'jump',
  'delete',
  'keep',
  'max-delete',
  'dry-run',
  'lock',
  'lock-wait',
  'releases',
  'release-name',
  'keep-releases',
  'shared-paths',
  'switch',
  'rollback',
  'batch-size',
  'batch-pause',
  'max-failures',
  'script-before',
  'script-after',
  'script-env',
  'script-timeout',
  'health-check',
  'health-check-url',
  'health-check-attempts',
  'health-check-interval',
  'rollback-on-failure'
] as const
export type InputName = (typeof INPUT_NAMES)[number]

/** Inputs whose values are secrets, masked before anything is logged. */
export const SECRET_INPUTS = ['key', 'passphrase', 'password'] as const

export interface InputEnvironment {
  /** Where relative paths (`working-directory`, `key-path`, `inventory`) start: the workspace. */
  readonly workspace: string
  readonly readFile: (path: string) => string
  /** The runner's environment variables, for an inventory's `key-env` and `password-env`. */
  readonly variables: Readonly<Record<string, string | undefined>>
  /**
   * An ssh-agent's socket, tried before the run's key (the command line passes SSH_AUTH_SOCK
   * where no key or password is given; the action never does).
   */
  readonly agent?: string
  /** The runner's path rules: node:path's, unless a test gives path.win32. */
  readonly path?: PathFlavor
  /** Now, for a release named by the time (tests give one). */
  readonly now?: Date
}

/** `(name) => value`: trimmed text, '' when unset (as @actions/core's getInput). */
export type InputReader = (name: InputName) => string

function integer(
  get: InputReader,
  name: InputName,
  fallback: number,
  min: number,
  max: number
): number {
  const text = get(name)
  if (text === '') return fallback
  if (!/^\d+$/.test(text))
    throw new InputError(name, `'${text}' is not a whole number (expected ${min}-${max})`)
  const value = Number(text)
  if (value < min || value > max)
    throw new InputError(name, `${value} is out of range (expected ${min}-${max})`)
  return value
}

function duration(get: InputReader, name: InputName, fallback: string): number {
  const text = get(name) || fallback
  const ms = parseDuration(text)
  if (ms === undefined)
    throw new InputError(
      name,
      `'${text}' is not a duration (examples: 500ms, 30s, 5m, 1h, or a number of seconds)`
    )
  if (ms <= 0) throw new InputError(name, `must be longer than zero, got '${text}'`)
  return ms
}

/** A duration that may be zero: how long to wait for something, if at all. */
function waitDuration(get: InputReader, name: InputName, fallback: string): number {
  const text = get(name) || fallback
  const ms = parseDuration(text)
  if (ms === undefined || ms < 0)
    throw new InputError(
      name,
      `'${text}' is not a duration (examples: 0s, 30s, 5m, or a number of seconds)`
    )
  return ms
}

/**
 * This run, as its lock names it to another run: the workflow run where there is one
 * (repository, workflow, run and attempt, runner), else the machine and process.
 */
function lockHolder(variables: Readonly<Record<string, string | undefined>>): string {
  const { GITHUB_REPOSITORY, GITHUB_WORKFLOW, GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT, RUNNER_NAME } =
    variables
  if (GITHUB_RUN_ID !== undefined && GITHUB_RUN_ID !== '')
    return `${GITHUB_REPOSITORY ?? 'a repository'} workflow '${GITHUB_WORKFLOW ?? '?'}' run ${GITHUB_RUN_ID} attempt ${GITHUB_RUN_ATTEMPT ?? '1'}${RUNNER_NAME === undefined ? '' : ` on runner ${RUNNER_NAME}`}`
  return `ssh-fanout-deploy on ${hostname()} (pid ${process.pid})`
}

function boolean(get: InputReader, name: InputName, fallback: boolean): boolean {
  const text = get(name)
  if (text === '') return fallback
  if (['true', 'True', 'TRUE'].includes(text)) return true
  if (['false', 'False', 'FALSE'].includes(text)) return false
  throw new InputError(name, `'${text}' is not a boolean (expected true or false)`)
}

function oneOf<T extends string>(
  get: InputReader,
  name: InputName,
  allowed: readonly T[],
  fallback: T
): T {
  const text = get(name)
  if (text === '') return fallback
  const value = allowed.find((option) => option === text.toLowerCase())
  if (value === undefined)
    throw new InputError(name, `'${text}' is not one of: ${allowed.join(', ')}`)
  return value
}

function optional(get: InputReader, name: InputName): string | undefined {
  const text = get(name)
  return text === '' ? undefined : text
}

function readPort(get: InputReader): number {
  const port = get('port') === '' ? 22 : parsePort(get('port'))
  if (port === undefined)
    throw new InputError('port', `'${get('port')}' is not a port number (1-65535)`)
  return port
}

/** The `inventory` input: its text, or the text of the workspace file it names; parsed. */
function readInventory(get: InputReader, env: InputEnvironment): Inventory | undefined {
  const value = get('inventory')
  if (value === '') return undefined
  if (isInventoryText(value)) return parseInventory(value)
  const rules = env.path ?? nodePath
  const path = rules.isAbsolute(value) ? value : rules.resolve(env.workspace, value)
  const inside = rules.relative(env.workspace, path)
  // On Windows, a path on another drive or share is absolute relative to the workspace.
  if (inside === '..' || inside.startsWith(`..${rules.sep}`) || rules.isAbsolute(inside))
    throw new InputError(
      'inventory',
      `'${value}' is outside the workspace; give the inventory's YAML or JSON, or the path of a file in the workspace`
    )
  let text: string
  try {
    text = env.readFile(path)
  } catch (error) {
    throw new InputError(
      'inventory',
      `cannot read '${path}' (${errorMessage(error)}): give the inventory's YAML or JSON, or the path of such a file in the workspace`,
      { cause: error }
    )
  }
  return parseInventory(text)
}

/** The run's credentials, undefined where none is set (hosts may bring their own). */
function readCredentials(
  get: InputReader,
  env: InputEnvironment
): { credentials: Credentials | undefined; derivedSecrets: string[] } {
  const read = readKeyAndPassword(get, env)
  if (env.agent === undefined) return read
  const { credentials } = read
  return {
    credentials: {
      privateKey: credentials?.privateKey,
      passphrase: credentials?.passphrase,
      password: credentials?.password,
      agent: env.agent,
      description:
        credentials === undefined ? 'ssh-agent' : `ssh-agent, then ${credentials.description}`
    },
    derivedSecrets: read.derivedSecrets
  }
}

/** The run's key (`key` or `key-path`) and password. */
function readKeyAndPassword(
  get: InputReader,
  env: InputEnvironment
): { credentials: Credentials | undefined; derivedSecrets: string[] } {
  const keyText = optional(get, 'key')
  const keyPath = optional(get, 'key-path')
  const passphrase = optional(get, 'passphrase')
  const password = optional(get, 'password')
  if (keyText !== undefined && keyPath !== undefined)
    throw new InputError('key-path', "set either 'key' or 'key-path', not both")

  let source = keyText
  if (keyPath !== undefined) {
    const rules = env.path ?? nodePath
    const path = rules.isAbsolute(keyPath) ? keyPath : rules.resolve(env.workspace, keyPath)
    try {
      source = env.readFile(path)
    } catch (error) {
      throw new InputError('key-path', `cannot read '${path}': ${errorMessage(error)}`, {
        cause: error
      })
    }
  }

  if (source === undefined) {
    if (password === undefined) return { credentials: undefined, derivedSecrets: [] }
    return {
      credentials: {
        privateKey: undefined,
        passphrase: undefined,
        password,
        description: 'password'
      },
      derivedSecrets: []
    }
  }

  let loaded
  try {
    loaded = loadPrivateKey(source, passphrase)
  } catch (error) {
    // A problem with a key read from a file is reported under the input that named the file.
    if (error instanceof InputError && error.input === 'key' && keyPath !== undefined)
      throw new InputError('key-path', error.message.replace(/^Input 'key': /, ''), {
        cause: error
      })
    throw error
  }
  return {
    credentials: {
      privateKey: loaded.key,
      passphrase: loaded.passphrase,
      password,
      description: `${loaded.type} key${password === undefined ? '' : ', then password'}`
    },
    derivedSecrets: [...loaded.derivedSecrets]
  }
}

/**
 * The run's host key policy and known_hosts entries; the policy is undefined where neither
 * `known-hosts` nor `fingerprint` is set (an inventory host may pin its own).
 */
function readHostKeys(
  get: InputReader,
  warnings: string[]
): { policy: HostKeyPolicy | undefined; knownHosts: KnownHostEntry[] } {
  const insecure = boolean(get, 'insecure-ignore-host-key', false)
  const knownHostsText = optional(get, 'known-hosts')
  const fingerprintText = optional(get, 'fingerprint')

  if (insecure) {
    if (knownHostsText !== undefined || fingerprintText !== undefined)
      throw new InputError(
        'insecure-ignore-host-key',
        "is true while 'known-hosts' or 'fingerprint' is set; remove one: the host key is either checked or not"
      )
    warnings.push(
      'insecure-ignore-host-key is true: host keys are not checked, so a machine in the middle could receive these files. Pin them with known-hosts or fingerprint.'
    )
    return { policy: { mode: 'insecure' }, knownHosts: [] }
  }

  let knownHosts: ReturnType<typeof parseKnownHosts> = []
  if (knownHostsText !== undefined) {
    knownHosts = parseKnownHosts(knownHostsText)
    if (knownHosts.length === 0) throw new InputError('known-hosts', 'contains no host key entries')
  }

  const fingerprints: Fingerprint[] = []
  if (fingerprintText !== undefined) {
    for (const item of fingerprintText.split(/[\s,]+/).filter((part) => part !== '')) {
      const fingerprint = parseFingerprint(item)
      if (fingerprint === undefined)
        throw new InputError(
          'fingerprint',
          `'${item}' is not a host key fingerprint (expected SHA256:… as 'ssh-keygen -lf' prints, or MD5 hex)`
        )
      fingerprints.push(fingerprint)
    }
  }

  if (knownHosts.length === 0 && fingerprints.length === 0) return { policy: undefined, knownHosts }
  return { policy: { mode: 'verify', knownHosts, fingerprints }, knownHosts }
}

function readPatterns(get: InputReader, rollback: boolean): string[] {
  // A rollback sends nothing: it needs no files.
  if (rollback && get('source') === '') return []
  const patterns = get('source')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
  if (patterns.length === 0)
    throw new InputError('source', 'is required: give one glob pattern per line')
  if (patterns.every((pattern) => pattern.startsWith('!')))
    throw new InputError(
      'source',
      'has only exclude patterns (!…); add a pattern that includes files'
    )
  return patterns
}

/** The `target` input, normalized; undefined when empty (inventory hosts may name their own). */
function readTarget(get: InputReader): string | undefined {
  const text = get('target')
  if (text === '') return undefined
  if (text.includes('\0') || /[\r\n]/.test(text))
    throw new InputError('target', 'must be one line without NUL characters')
  return normalizeTarget(text)
}

/** How the hosts authenticate, for the log: their one way, or that each has its own. */
function describeAuth(hosts: Settings['hosts']): string {
  const ways = new Set(hosts.map((host) => host.credentials.description))
  const [only] = ways
  return ways.size === 1 && only !== undefined ? only : 'per host'
}

/**
 * The release inputs, where `releases` is true; elsewhere they are refused rather than ignored
 * (a `rollback: true` that does nothing would look like one that worked).
 */
function readReleases(get: InputReader, env: InputEnvironment): ReleaseSettings | undefined {
  const rollback = boolean(get, 'rollback', false)
  if (!boolean(get, 'releases', false)) {
    for (const name of [
      'rollback',
      'release-name',
      'keep-releases',
      'shared-paths',
      'switch'
    ] as const)
      if (get(name) !== '' && !(name === 'rollback' && !rollback))
        throw new InputError(name, 'applies to releases: set releases: true as well')
    return undefined
  }
  if (boolean(get, 'delete', false))
    throw new InputError(
      'delete',
      'applies to in-place deploys: with releases each release holds only what this run deploys'
    )
  return {
    name: checkReleaseName(
      get('release-name') || defaultReleaseName(env.variables, env.now ?? new Date())
    ),
    keep: integer(get, 'keep-releases', 5, 0, 10_000),
    sharedPaths: parseSharedPaths(get('shared-paths')),
    switchMode: oneOf(get, 'switch', SWITCH_MODES, 'together'),
    rollback
  }
}

// script-env values this long or longer are masked in the log.
const MASKED_ENV_MIN_LENGTH = 4

/** A script input: undefined where blank. */
function script(get: InputReader, name: InputName): string | undefined {
  const text = get(name)
  if (text.includes('\0')) throw new InputError(name, 'must not contain NUL characters')
  return text.trim() === '' ? undefined : text
}

function readRollout(get: InputReader, env: InputEnvironment): RolloutSettings {
  const healthCheckUrl = get('health-check-url')
  return {
    batchSizes: parseBatchSizes(get('batch-size')),
    batchPauseMs: waitDuration(get, 'batch-pause', '0s'),
    maxFailures: parseMaxFailures(get('max-failures')),
    scriptBefore: script(get, 'script-before'),
    scriptAfter: script(get, 'script-after'),
    scriptEnv: readScriptEnv(get('script-env'), env.variables),
    scriptTimeoutMs: duration(get, 'script-timeout', '10m'),
    healthCheck: script(get, 'health-check'),
    healthCheckUrl: healthCheckUrl === '' ? undefined : checkHealthUrl(healthCheckUrl),
    healthCheckAttempts: integer(get, 'health-check-attempts', 10, 1, 1000),
    healthCheckIntervalMs: waitDuration(get, 'health-check-interval', '3s'),
    rollbackOnFailure: boolean(get, 'rollback-on-failure', true)
  }
}

export function parseInputs(get: InputReader, env: InputEnvironment): Settings {
  const warnings: string[] = []
  // Cheap structural checks first, so a typo is reported before a key is parsed.
  const port = readPort(get)
  if (get('host') !== '') parseHostList(get('host'), { port, user: optional(get, 'username') })
  const inventory = readInventory(get, env)
  const connectTimeoutMs = duration(get, 'connect-timeout', '30s')
  const timeoutMs = duration(get, 'timeout', '30m')
  const releases = readReleases(get, env)
  const rollout = readRollout(get, env)
  const patterns = readPatterns(get, releases?.rollback === true)
  const target = readTarget(get)
  const workingDirectory = (env.path ?? nodePath).resolve(
    env.workspace,
    get('working-directory') || '.'
  )
  const stripComponents = integer(get, 'strip-components', 0, 0, 1000)
  const ifNoFilesFound = oneOf(get, 'if-no-files-found', NO_FILES_MODES, 'error')
  const followSymbolicLinks = boolean(get, 'follow-symbolic-links', true)
  const maxParallel = integer(get, 'max-parallel', 8, 1, 1000)
  const concurrency = integer(get, 'concurrency', 8, 1, 128)
  const threads =
    get('threads') === '' || get('threads').toLowerCase() === 'auto'
      ? 'auto'
      : integer(get, 'threads', 1, 1, 256)
  const retries = integer(get, 'retries', 3, 0, 100)
  const retryDelayMs = duration(get, 'retry-delay', '1s')
  const verify = oneOf(get, 'verify', VERIFY_MODES, 'sha256')
  const atomic = boolean(get, 'atomic', true)
  const resume = boolean(get, 'resume', true)
  const idleTimeoutMs = duration(get, 'idle-timeout', '60s')
  const keepaliveIntervalMs = duration(get, 'keepalive-interval', '10s')
  const preflight = boolean(get, 'preflight', true)
  const deleteExtraneous = boolean(get, 'delete', false)
  const keep = parseKeep(get('keep'))
  const maxDelete = get('max-delete') === '' ? undefined : integer(get, 'max-delete', 0, 0, 1e9)
  const dryRun = boolean(get, 'dry-run', false)
  const lock = boolean(get, 'lock', true)
  const lockWaitMs = waitDuration(get, 'lock-wait', '0s')
  const hostKeys = readHostKeys(get, warnings)
  const { credentials, derivedSecrets } = readCredentials(get, env)
  const resolved = resolveDestinations({
    host: get('host'),
    port,
    username: optional(get, 'username'),
    target,
    jump: get('jump'),
    select: get('select'),
    shard: get('shard'),
    inventory,
    credentials,
    hostKeys: hostKeys.policy,
    knownHosts: hostKeys.knownHosts,
    passphrase: optional(get, 'passphrase'),
    variables: env.variables
  })

  return {
    hosts: resolved.hosts,
    authDescription: describeAuth(resolved.hosts),
    notices: resolved.notices,
    connectTimeoutMs,
    timeoutMs,
    patterns,
    workingDirectory,
    stripComponents,
    ifNoFilesFound,
    followSymbolicLinks,
    maxParallel,
    concurrency,
    threads,
    retries,
    retryDelayMs,
    verify,
    atomic,
    resume,
    idleTimeoutMs,
    keepaliveIntervalMs,
    preflight,
    delete: deleteExtraneous,
    keep,
    maxDelete,
    dryRun,
    releases,
    rollout,
    lock,
    lockWaitMs,
    lockHolder: lockHolder(env.variables),
    derivedSecrets: [
      ...derivedSecrets,
      ...resolved.secrets,
      // Values exported to the scripts are masked like secrets (short ones would mask too much).
      ...[...rollout.scriptEnv.values()].filter((value) => value.length >= MASKED_ENV_MIN_LENGTH)
    ],
    warnings
  }
}
