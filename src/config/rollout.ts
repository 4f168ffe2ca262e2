// The rollout inputs: batches (`batch-size`, `batch-pause`, `max-failures`), the remote scripts
// (`script-before`, `script-after`, `script-env`, `script-timeout`) and the health checks
// (`health-check`, `health-check-url`, their attempts and interval), and `rollback-on-failure`.

import { InputError } from '../errors.js'

/** One entry of `batch-size`: a number of hosts, or a percentage of all of them. */
export type BatchSize = { readonly hosts: number } | { readonly percent: number }

export interface RolloutSettings {
  /** Empty: one batch of every host. The last size repeats. */
  readonly batchSizes: readonly BatchSize[]
  readonly batchPauseMs: number
  /** Failed hosts tolerated: a number, or a percentage of all hosts. */
  readonly maxFailures: BatchSize
  readonly scriptBefore: string | undefined
  readonly scriptAfter: string | undefined
  /** Runner variables exported to the scripts and the health check, by name. */
  readonly scriptEnv: ReadonlyMap<string, string>
  readonly scriptTimeoutMs: number
  readonly healthCheck: string | undefined
  /** With `{host}` where the host's address goes. */
  readonly healthCheckUrl: string | undefined
  readonly healthCheckAttempts: number
  readonly healthCheckIntervalMs: number
  readonly rollbackOnFailure: boolean
}

function sizeOf(input: string, text: string): BatchSize {
  const percent = /^(\d{1,3})%$/.exec(text)
  if (percent !== null) {
    const value = Number(percent[1])
    if (value < 1 || value > 100)
      throw new InputError(input, `'${text}' is not a percentage from 1% to 100%`)
    return { percent: value }
  }
  if (!/^\d+$/.test(text))
    throw new InputError(input, `'${text}' is not a number of hosts or a percentage (25%)`)
  return { hosts: Number(text) }
}

/** `batch-size`: `2`, `25%`, or a list `1, 25%, 100%` (commas and/or newlines). */
export function parseBatchSizes(text: string): BatchSize[] {
  const entries = text
    .split(/[,\n]/)
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
  const sizes = entries.map((entry) => sizeOf('batch-size', entry))
  if (sizes.some((size) => 'hosts' in size && size.hosts === 0))
    throw new InputError('batch-size', 'a batch must have at least one host')
  return sizes
}

/** `max-failures`: a number of hosts (0 or more) or a percentage of all hosts. */
export function parseMaxFailures(text: string): BatchSize {
  if (text === '') return { hosts: 0 }
  if (/^0%$/.test(text)) return { hosts: 0 }
  return sizeOf('max-failures', text)
}

/** A size in hosts, out of `total`: a percentage rounded down, at least one host. */
export function hostsOf(size: BatchSize, total: number): number {
  if ('hosts' in size) return size.hosts
  return Math.max(1, Math.floor((total * size.percent) / 100))
}

/** Failed hosts tolerated, out of `total`: a percentage rounded down (it may be none). */
export function failuresTolerated(size: BatchSize, total: number): number {
  if ('hosts' in size) return size.hosts
  return Math.floor((total * size.percent) / 100)
}

/**
 * The batches, as the places of the hosts in input order: each size in turn, the last one
 * repeated, until every host has its batch.
 */
export function batchesOf(sizes: readonly BatchSize[], total: number): number[][] {
  const batches: number[][] = []
  let next = 0
  for (let index = 0; next < total; index += 1) {
    const size = sizes[Math.min(index, sizes.length - 1)]
    const count = size === undefined ? total : hostsOf(size, total)
    const batch: number[] = []
    for (; batch.length < count && next < total; next += 1) batch.push(next)
    batches.push(batch)
  }
  return batches
}

/** `script-env`: names separated by newlines and/or commas, each a runner variable that is set. */
export function readScriptEnv(
  text: string,
  variables: Readonly<Record<string, string | undefined>>
): Map<string, string> {
  const exported = new Map<string, string>()
  for (const name of text
    .split(/[,\n]/)
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      throw new InputError('script-env', `'${name}' is not a variable name`)
    if (name.startsWith('DEPLOY_'))
      throw new InputError('script-env', `'${name}': DEPLOY_* names are set by the action`)
    const value = variables[name]
    if (value === undefined)
      throw new InputError(
        'script-env',
        `'${name}' is not set on the runner (set it with env: on the step)`
      )
    exported.set(name, value)
  }
  return exported
}

/** `health-check-url`: http(s), `{host}` allowed in its host part. */
export function checkHealthUrl(text: string): string {
  let url: URL
  try {
    url = new URL(text.replaceAll('{host}', 'host.invalid'))
  } catch {
    throw new InputError('health-check-url', `'${text}' is not a URL`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new InputError('health-check-url', `'${text}' is not an http or https URL`)
  return text
}
