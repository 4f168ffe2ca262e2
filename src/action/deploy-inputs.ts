// The inputs of releases and rollouts, read into their settings: refused where they do not
// apply (a `rollback` without `releases`), never silently ignored.

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
import { InputError } from '../errors.js'
import type { InputEnvironment, InputName, InputReader } from './input-names.js'
import { boolean, duration, integer, oneOf, waitDuration } from './input-values.js'

/**
 * The release inputs, where `releases` is true; elsewhere they are refused rather than ignored
 * (a `rollback: true` that does nothing would look like one that worked).
 */
export function readReleases(get: InputReader, env: InputEnvironment): ReleaseSettings | undefined {
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
export const MASKED_ENV_MIN_LENGTH = 4

/** A script input: undefined where blank. */
function script(get: InputReader, name: InputName): string | undefined {
  const text = get(name)
  if (text.includes('\0')) throw new InputError(name, 'must not contain NUL characters')
  return text.trim() === '' ? undefined : text
}

export function readRollout(get: InputReader, env: InputEnvironment): RolloutSettings {
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
