// What the release tests share: a deploy with `releases: true` as the runner runs it, and what a
// host's deploy root holds (where `current` points, which releases are there).

import { readdirSync, readlinkSync } from 'node:fs'
import { workspace } from '../helpers/workspace.js'
import { fleetInputs, runAction, type ActionRun } from './run-action.js'
import type { Fleet, TestHost } from './sshd.js'

/** A deploy of `files` to `hosts` with `releases: true` and the inputs of `extra`. */
export function deployRelease(
  fleet: Fleet,
  hosts: readonly TestHost[],
  files: Record<string, string | Buffer>,
  extra: Record<string, string>
): Promise<ActionRun> {
  return runAction(fleetInputs(fleet, hosts, { releases: 'true', ...extra }), {
    cwd: workspace(files)
  })
}

/** `current`'s link text under `root` on a host (`releases/<name>`). */
export function currentOf(h: TestHost, root: string): string {
  return readlinkSync(h.path(`${root}/current`))
}

/** The release directories under `root` on a host, sorted. */
export function releasesOn(h: TestHost, root: string): string[] {
  return readdirSync(h.path(`${root}/releases`)).sort()
}
