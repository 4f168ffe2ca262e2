// Durations as users write them in workflow files: `500ms`, `30s`, `5m`, `1h`, `1m30s`, or a bare
// number of seconds.

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const
type Unit = keyof typeof UNIT_MS

const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy

/** Milliseconds, or undefined when `text` is not a duration. */
export function parseDuration(text: string): number | undefined {
  const value = text.trim().toLowerCase()
  if (value === '') return undefined
  if (/^\d+(?:\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000)
  PART.lastIndex = 0
  let total = 0
  let consumed = 0
  for (let match = PART.exec(value); match !== null; match = PART.exec(value)) {
    const [whole, amount, unit] = match
    total += Number(amount) * UNIT_MS[unit as Unit]
    consumed += whole.length
  }
  if (consumed !== value.length) return undefined
  return Math.round(total)
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`
  const minutes = Math.floor(ms / 60_000)
  const seconds = Math.round((ms % 60_000) / 1000)
  return `${minutes}m${String(seconds).padStart(2, '0')}s`
}
