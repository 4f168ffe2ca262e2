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
  INPUT_NAMES,
  SECRET_INPUTS,
  type InputEnvironment,
  type InputName,
  type InputReader
} from './input-names.js'
import { boolean, duration, integer, oneOf, optional, waitDuration } from './input-values.js'
import { MASKED_ENV_MIN_LENGTH, readReleases, readRollout } from './deploy-inputs.js'

export { INPUT_NAMES, SECRET_INPUTS, type InputEnvironment, type InputName, type InputReader }

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
      ...(credentials?.moreKeys === undefined ? {} : { moreKeys: credentials.moreKeys }),
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
  if (keyText === undefined && keyPath === undefined && (env.keyFiles ?? []).length > 0)
    return readKeyFiles(env.keyFiles ?? [], env, passphrase, password)

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
 * The command line's default key files (see InputEnvironment.keyFiles), each tried in turn: the
 * first is the run's key, the others its `moreKeys`. A file that does not load is a `key-path`
 * error, as it would be given by name.
 */
function readKeyFiles(
  paths: readonly string[],
  env: InputEnvironment,
  passphrase: string | undefined,
  password: string | undefined
): { credentials: Credentials; derivedSecrets: string[] } {
  const loaded = paths.map((path) => {
    try {
      return { path, ...loadPrivateKey(env.readFile(path), passphrase) }
    } catch (error) {
      const why = errorMessage(error).replace(/^Input '[^']+': /, '')
      throw new InputError('key-path', `cannot use '${path}': ${why}`, {
        cause: error
      })
    }
  })
  const [first, ...rest] = loaded
  if (first === undefined) throw new Error('readKeyFiles needs a file')
  const keys = loaded.map((key) => `${key.type} key ${key.path}`).join(', then ')
  return {
    credentials: {
      privateKey: first.key,
      passphrase: first.passphrase,
      ...(rest.length === 0
        ? {}
        : { moreKeys: rest.map(({ key, passphrase: opens }) => ({ key, passphrase: opens })) }),
      password,
      description: `${keys}${password === undefined ? '' : ', then password'}`
    },
    derivedSecrets: loaded.flatMap((key) => key.derivedSecrets)
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
