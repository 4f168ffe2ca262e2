// `select` and `shard`: which of the listed hosts this job deploys. Pure.

import { InputError } from '../errors.js'

/** `i/n`, 1-based: this job's slice of n. */
export interface Shard {
  readonly index: number
  readonly count: number
}

export function parseShard(text: string): Shard {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text)
  const index = Number(match?.[1])
  const count = Number(match?.[2])
  if (match === null || count < 1 || count > 10_000 || index < 1 || index > count)
    throw new InputError(
      'shard',
      `'${text}' is not a shard: write i/n with 1 <= i <= n (for example \${{ matrix.shard }}/4)`
    )
  return { index, count }
}

/** The labels `select` names (separated by commas, blanks or newlines). */
export function parseSelect(text: string): string[] {
  return text.split(/[\s,]+/).filter((label) => label !== '')
}

/** The items carrying every one of `wanted` labels. */
export function selectByLabels<T extends { readonly labels: readonly string[] }>(
  items: readonly T[],
  wanted: readonly string[]
): T[] {
  return items.filter((item) => wanted.every((label) => item.labels.includes(label)))
}

/**
 * The shard's slice of `items`, in their order: contiguous, its boundaries at
 * ceil(i * length / count), so the slices' sizes differ by at most one (the first ones the
 * larger), and together they hold every item exactly once. The same list gives every job of a
 * matrix the same slices.
 */
export function shardSlice<T>(items: readonly T[], shard: Shard): T[] {
  const start = Math.ceil(((shard.index - 1) * items.length) / shard.count)
  const end = Math.ceil((shard.index * items.length) / shard.count)
  return items.slice(start, end)
}
