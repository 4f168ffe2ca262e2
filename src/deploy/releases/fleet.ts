// The switch of a fan-out's hosts, once their releases are made: each host as soon as it is
// ready (`switch: per-host`), or all together in two phases (`switch: together`): no host
// switches until every host of the run is ready, and a host that fails to switch has the others
// switched back. A host whose release was ready but did not switch is `held`.

import { DeployError, errorMessage, oneLine } from '../../errors.js'
import type { HostResult } from '../result.js'
import type { HostJob } from '../types.js'
import type { SwitchBarrier } from './barrier.js'
import { abandonHost, finishHost, switchBack, switchHost } from './switch.js'
import { afterSwitched } from '../rollout/after.js'

/** A host whose release step is over: its job, and its result so far. */
export interface MadeRelease {
  readonly job: HostJob
  readonly result: HostResult
}

/** The result with what the host's release came to. */
export function withRelease(
  job: HostJob,
  result: HostResult,
  change: Partial<Pick<HostResult, 'status' | 'error' | 'errorClass'>> = {}
): HostResult {
  const release = job.progress.release
  const settings = job.settings.releases
  const name = release?.name ?? (settings?.rollback === false ? settings.name : null)
  return {
    ...result,
    ...change,
    release: name,
    previousRelease: release?.previous ?? null,
    switched: release?.switched ?? false
  }
}

function failure(error: unknown): Pick<HostResult, 'status' | 'error' | 'errorClass'> {
  const kind = error instanceof DeployError ? error.kind : 'remote-failure'
  return { status: 'failed', error: oneLine(errorMessage(error)), errorClass: kind }
}

/** `per-host`: switched as soon as its release is ready; a failed switch leaves `current` as it was. */
export async function switchOneHost(made: MadeRelease, signal: AbortSignal): Promise<HostResult> {
  const { job, result } = made
  if (result.status !== 'success') return withRelease(job, result)
  if (signal.aborted) {
    // Cancelled while its release was made: it does not switch.
    await abandonHost(job)
    return withRelease(job, result, failure(signal.reason))
  }
  try {
    await switchHost(job, signal)
  } catch (error) {
    job.log.warning(`could not switch: ${oneLine(errorMessage(error))}`)
    await abandonHost(job)
    return withRelease(job, result, failure(error))
  }
  return afterTheSwitch(made, signal)
}

/**
 * A host on its new release: `script-after` and the health checks; where one fails (and
 * `rollback-on-failure`), back to the release before, `script-after` run again there, and the
 * new release removed. Then the host finished (recorded, pruned, unlocked).
 */
async function afterTheSwitch(made: MadeRelease, signal: AbortSignal): Promise<HostResult> {
  const { job, result } = made
  const release = job.progress.release
  try {
    await afterSwitched(job, signal)
  } catch (error) {
    job.log.warning(oneLine(errorMessage(error)))
    const previous = release?.rollback === false ? release.previous : undefined
    // A cancel is not a failed check: the host stays where the switch put it.
    const cancelled = error instanceof DeployError && error.kind === 'aborted'
    if (!job.settings.rollout.rollbackOnFailure || previous === undefined || cancelled) {
      await finishHost(job)
      return withRelease(job, result, failure(error))
    }
    try {
      await switchBack(job)
      await afterSwitched(job, signal, { name: previous, previous: undefined }).catch(
        (again: unknown) =>
          job.log.warning(`script-after on ${previous}: ${oneLine(errorMessage(again))}`)
      )
    } catch (backError) {
      job.log.warning(`could not switch back: ${oneLine(errorMessage(backError))}`)
      await finishHost(job)
      return withRelease(job, result, failure(error))
    }
    await abandonHost(job)
    return { ...withRelease(job, result, failure(error)), rolledBack: true }
  }
  await finishHost(job)
  return withRelease(job, result)
}

const HELD =
  'held: its release was ready, but another host of the run failed, so no host switched; this release was removed'
const HELD_BACK =
  'held: switched, then switched back because another host of the run failed to switch; this release was removed'

/** A host that was ready and is not switched (back where it was): its release removed. */
async function hold(made: MadeRelease, held: string): Promise<HostResult> {
  // A rollback made no release: none is removed.
  const why =
    made.job.progress.release?.rollback === true
      ? held.replace(/; this release was removed$/, '')
      : held
  made.job.log.warning(why)
  await abandonHost(made.job)
  return withRelease(made.job, made.result, { status: 'held', error: why })
}

/**
 * `together`: the run's hosts vote that they are ready; where all are, every ready host
 * switches at once, and they vote again; where one failed to switch, the others switch back.
 * Returns each host's final result, in the order given.
 */
export async function switchTogether(
  hosts: readonly MadeRelease[],
  barrier: SwitchBarrier,
  signal: AbortSignal
): Promise<HostResult[]> {
  const ready = hosts.filter((made) => made.result.status === 'success')
  const allReady = ready.length === hosts.length && !signal.aborted
  const go = await barrier.vote('ready', allReady)
  const final = new Map<MadeRelease, HostResult>()
  if (!go) {
    await Promise.all(ready.map(async (made) => final.set(made, await hold(made, HELD))))
  } else {
    const outcomes = await Promise.all(
      ready.map((made) =>
        switchHost(made.job, signal).then(
          () => undefined,
          (error: unknown) => error
        )
      )
    )
    const allSwitched = outcomes.every((outcome) => outcome === undefined)
    const commit = await barrier.vote('switched', allSwitched)
    await Promise.all(
      ready.map(async (made, index) => {
        const error = outcomes[index]
        if (error !== undefined) {
          made.job.log.warning(`could not switch: ${oneLine(errorMessage(error))}`)
          await abandonHost(made.job)
          final.set(made, withRelease(made.job, made.result, failure(error)))
        } else if (commit) {
          final.set(made, await afterTheSwitch(made, signal))
        } else {
          final.set(made, await switchBackAndHold(made))
        }
      })
    )
  }
  return hosts.map((made) => final.get(made) ?? withRelease(made.job, made.result))
}

/** Switched, but another host was not: back to the release before, then held. */
async function switchBackAndHold(made: MadeRelease): Promise<HostResult> {
  try {
    await switchBack(made.job)
  } catch (error) {
    const why = `switched, and could not switch back after another host failed to switch: ${oneLine(errorMessage(error))}`
    made.job.log.warning(why)
    await finishHost(made.job)
    return withRelease(made.job, made.result, {
      status: 'failed',
      error: why,
      errorClass: error instanceof DeployError ? error.kind : 'remote-failure'
    })
  }
  return hold(made, HELD_BACK)
}
