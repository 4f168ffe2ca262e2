// Temporary directories for tests. Each is removed when its test file ends (test/setup.ts
// registers the afterAll), so a run leaves nothing behind in the system's temporary directory:
// workspaces alone hold tens of MiB each, and thousands of runs fill a disk.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const made = new Set<string>()

/** A new empty directory `$TMPDIR/sfd-<name>-XXXXXX`, removed when the test file ends. */
export function tempDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `sfd-${name}-`))
  made.add(dir)
  return dir
}

/** Removes every directory tempDir made in this test file. */
export function removeTempDirs(): void {
  for (const dir of made) rmSync(dir, { recursive: true, force: true })
  made.clear()
}
