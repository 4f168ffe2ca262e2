// One input's text read as a value of its kind (a number in range, a duration, a boolean, one
// of a few words), or an InputError that names the input and says what is wrong.

import { parseDuration } from '../config/duration.js'
import { InputError } from '../errors.js'
import type { InputName, InputReader } from './input-names.js'

export function integer(
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

export function duration(get: InputReader, name: InputName, fallback: string): number {
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
export function waitDuration(get: InputReader, name: InputName, fallback: string): number {
  const text = get(name) || fallback
  const ms = parseDuration(text)
  if (ms === undefined || ms < 0)
    throw new InputError(
      name,
      `'${text}' is not a duration (examples: 0s, 30s, 5m, or a number of seconds)`
    )
  return ms
}

export function boolean(get: InputReader, name: InputName, fallback: boolean): boolean {
  const text = get(name)
  if (text === '') return fallback
  if (['true', 'True', 'TRUE'].includes(text)) return true
  if (['false', 'False', 'FALSE'].includes(text)) return false
  throw new InputError(name, `'${text}' is not a boolean (expected true or false)`)
}

export function oneOf<T extends string>(
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

export function optional(get: InputReader, name: InputName): string | undefined {
  const text = get(name)
  return text === '' ? undefined : text
}
