// A rolling deploy: the hosts in input order, a batch at a time (`batch-size`), each batch
// finished (published, switched, script-after and health checks passed) before the next
// starts, `batch-pause` between. Once more hosts have failed than `max-failures` allows, no
// further batch starts: the hosts not started are skipped.

import { formatDuration } from '../../config/duration.js'
import { batchesOf, failuresTolerated, type RolloutSettings } from '../../config/rollout.js'
import { notAttempted, type HostResult } from '../result.js'
import { waitUnlessStopped } from '../wait.js'

/** Deploys a batch (the hosts' places in the run's list); its results in the same order. */
export type BatchRunner = (hosts: readonly number[], batch: number) => Promise<HostResult[]>

export interface Rollout {
  readonly results: HostResult[]
  /** Why the rollout stopped early, where it did. */
  readonly stopped: string | undefined
  readonly batches: number
  /** Failed hosts tolerated. */
  readonly tolerated: number
}

export async function rollOut(
  rollout: RolloutSettings,
  labels: readonly string[],
  files: number,
  runBatch: BatchRunner,
  signal: AbortSignal,
  say: (line: string) => void,
  /** A host not started because the rollout stopped (reported as the others are). */
  skipped: (result: HostResult) => void = () => undefined
): Promise<Rollout> {
  const batches = batchesOf(rollout.batchSizes, labels.length)
  const tolerated = failuresTolerated(rollout.maxFailures, labels.length)
  const results = new Array<HostResult | undefined>(labels.length)
  let failed = 0
  let stopped: string | undefined
  for (const [at, batch] of batches.entries()) {
    const number = at + 1
    if (stopped !== undefined) {
      for (const index of batch) {
        const result = {
          ...notAttempted(
            labels[index] ?? '?',
            files,
            `not started: the rollout stopped ${stopped}`
          ),
          batch: number
        }
        results[index] = result
        skipped(result)
      }
      continue
    }
    if (at > 0 && rollout.batchPauseMs > 0) {
      say(`waiting ${formatDuration(rollout.batchPauseMs)} before batch ${number}`)
      await waitUnlessStopped(rollout.batchPauseMs, signal)
    }
    if (batches.length > 1) say(`batch ${number} of ${batches.length}: ${batch.length} host(s)`)
    const got = await runBatch(batch, number)
    batch.forEach((index, place) => {
      const result = got[place]
      if (result !== undefined) results[index] = { ...result, batch: number }
    })
    // A held host did not get the release either: it counts as the failure that held it does.
    failed += got.filter((result) => result.status === 'failed' || result.status === 'held').length
    if (failed > tolerated && number < batches.length)
      stopped = `after batch ${number} of ${batches.length}: ${failed} host(s) failed, more than max-failures allows (${tolerated})`
  }
  if (stopped !== undefined) say(`rollout stopped ${stopped}; the hosts not started are skipped`)
  return {
    results: results.map(
      (result, index) => result ?? notAttempted(labels[index] ?? '?', files, 'not attempted')
    ),
    stopped,
    batches: batches.length,
    tolerated
  }
}
