// The commands that delete what a sync removes, in one script for a shell on the host: files and
// links in batches (`rm -f`, never following a link), then directories deepest first (`rmdir`,
// which leaves any that are not empty). Every path is absolute and goes through quotePath.

import { quotePath } from './shell-quote.js'

// Paths per `rm` line: the script is read from stdin, so no command-line limit applies; a line
// stays moderate.
const PATHS_PER_LINE = 200

/**
 * The script: exits 0 when every `rm` succeeded, else 1 (its messages on stderr); a directory
 * that cannot be removed (not empty, say) is left quietly.
 */
export function removalScript(files: readonly string[], directories: readonly string[]): string {
  const lines = ['s=0']
  for (let start = 0; start < files.length; start += PATHS_PER_LINE)
    lines.push(
      `rm -f ${files
        .slice(start, start + PATHS_PER_LINE)
        .map(quotePath)
        .join(' ')} || s=1`
    )
  for (const dir of directories) lines.push(`rmdir ${quotePath(dir)} 2>/dev/null`)
  lines.push('exit $s', '')
  return lines.join('\n')
}
