// Which releases a host has, in the order they were made: the record the host keeps
// (`<target>/releases.log`, one release per line, oldest first), the release directories there,
// and the one `current` points to. Pure: what to switch back to, and what to prune.

/** The record's file, in the deploy root. */
export const HISTORY_FILE = 'releases.log'

/** One line of the record: the name, then (tab-separated) when and by what it was made. */
export function historyLine(name: string, madeAt: Date, by: string): string {
  return `${name}\t${madeAt.toISOString()}\t${by.replace(/[\t\r\n]+/g, ' ')}`
}

/** The names the record holds, oldest first (a name recorded twice counts where it was last). */
export function parseHistory(text: string): string[] {
  const names: string[] = []
  for (const line of text.split('\n')) {
    const name = line.split('\t')[0]?.trim() ?? ''
    if (name === '') continue
    const before = names.indexOf(name)
    if (before !== -1) names.splice(before, 1)
    names.push(name)
  }
  return names
}

/** The record's lines for `names`, keeping what the old lines said of each. */
export function historyText(lines: readonly string[], names: readonly string[]): string {
  const byName = new Map(lines.map((line) => [line.split('\t')[0]?.trim() ?? '', line]))
  return names.map((name) => byName.get(name) ?? name).join('\n') + (names.length > 0 ? '\n' : '')
}

/**
 * The host's releases oldest first: those the record names that are still there, then the
 * current one where the record lacks it (a run that stopped between the switch and the record).
 */
export function orderedReleases(
  recorded: readonly string[],
  directories: ReadonlySet<string>,
  current: string | undefined
): string[] {
  const ordered = recorded.filter((name) => directories.has(name))
  if (current !== undefined && !ordered.includes(current)) ordered.push(current)
  return ordered
}

/** The release made before `current`: where a rollback goes. */
export function releaseBefore(ordered: readonly string[], current: string): string | undefined {
  const at = ordered.indexOf(current)
  return at > 0 ? ordered[at - 1] : undefined
}

/**
 * The releases `keep-releases` removes: all but the newest `keep`, never the current one or the
 * one before it. `keep` 0 keeps all.
 */
export function releasesToPrune(
  ordered: readonly string[],
  current: string,
  keep: number
): string[] {
  if (keep === 0) return []
  const kept = new Set(ordered.slice(-keep))
  kept.add(current)
  const before = releaseBefore(ordered, current)
  if (before !== undefined) kept.add(before)
  return ordered.filter((name) => !kept.has(name))
}
