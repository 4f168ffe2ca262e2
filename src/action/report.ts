// The run's results as the contract publishes them: step outputs, the job summary table and
// one error annotation per failed host. Pure formatting.

import type { HostResult, HostStatus } from '../deploy/result.js'
import type { PlannedCounts } from '../deploy/progress.js'
import { formatBytes } from '../format.js'
import { formatDuration } from '../config/duration.js'
import { oneLine } from '../errors.js'

export function buildOutputs(
  results: readonly HostResult[],
  fileCount: number,
  /** With `releases`: the new release's name (a rollback's: none). */
  release?: string
): Record<string, string> {
  const hostsWith = (status: HostStatus): string[] =>
    results.filter((result) => result.status === status).map((result) => result.host)
  const succeeded = hostsWith('success')
  const failed = hostsWith('failed')
  const ordered = results.map((result) => ({
    host: result.host,
    status: result.status,
    files: result.files,
    uploaded: result.uploaded,
    skipped: result.skipped,
    deleted: result.deleted,
    bytes: result.bytes,
    resumedBytes: result.resumedBytes,
    attempts: result.attempts,
    durationMs: result.durationMs,
    ...(result.error === undefined ? {} : { error: oneLine(result.error) }),
    ...(result.errorClass === undefined ? {} : { errorClass: result.errorClass }),
    ...(result.jump === undefined ? {} : { jump: result.jump }),
    ...(result.planned === undefined ? {} : { planned: result.planned }),
    ...(result.batch === undefined ? {} : { batch: result.batch }),
    ...(result.startedAt === undefined ? {} : { startedAt: result.startedAt }),
    ...(result.finishedAt === undefined ? {} : { finishedAt: result.finishedAt }),
    rolledBack: result.rolledBack ?? false,
    ...(result.switched === undefined
      ? {}
      : {
          release: result.release ?? null,
          previousRelease: result.previousRelease ?? null,
          switched: result.switched
        })
  }))
  return {
    results: JSON.stringify(ordered),
    'succeeded-hosts': JSON.stringify(succeeded),
    'failed-hosts': JSON.stringify(failed),
    'held-hosts': JSON.stringify(hostsWith('held')),
    'succeeded-count': String(succeeded.length),
    'failed-count': String(failed.length),
    files: String(fileCount),
    bytes: String(results.reduce((sum, result) => sum + result.bytes, 0)),
    ...(release === undefined ? {} : { release })
  }
}

function cell(text: string): string {
  return oneLine(text).replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

const STATUS_LABEL: Readonly<Record<HostStatus, string>> = {
  success: '✅ success',
  failed: '❌ failed',
  skipped: '⏭️ skipped',
  planned: '📋 planned',
  held: '⏸️ held'
}

export interface SummaryContext {
  /** `delete` is on: the table has a Deleted column. */
  readonly deleting?: boolean
  /** Each host's target, by its label. */
  readonly targets: ReadonlyMap<string, string>
  readonly files: number
  readonly totalBytes: number
  readonly verify: string
  /** A rolling deploy's batches: more than one adds a Batch column. */
  readonly batches?: number
  /** Why a rolling deploy stopped early. */
  readonly stopped?: string
}

/** The table's optional columns, each a header and a cell per result. */
function optionalColumns(
  results: readonly HostResult[],
  context: SummaryContext
): { header: string; cell: (result: HostResult) => string }[] {
  const targets = new Set(context.targets.values())
  const columns: { header: string; cell: (result: HostResult) => string }[] = []
  if ((context.batches ?? 1) > 1)
    columns.push({ header: 'Batch', cell: (result) => String(result.batch ?? '') })
  if (targets.size > 1)
    columns.push({
      header: 'Target',
      cell: (result) => cell(context.targets.get(result.host) ?? '')
    })
  if (results.some((result) => result.jump !== undefined))
    columns.push({ header: 'Via', cell: (result) => cell(result.jump?.join(' → ') ?? '') })
  if (results.some((result) => result.switched !== undefined))
    columns.push({
      header: 'Release',
      cell: (result) =>
        result.switched === undefined
          ? ''
          : cell(
              `${result.previousRelease ?? '(none)'} → ${result.release ?? '?'}${result.switched ? '' : ' (not switched)'}`
            )
    })
  if (results.some((result) => result.planned !== undefined))
    columns.push({
      header: 'Plan',
      cell: (result) =>
        result.planned === undefined
          ? ''
          : cell(planText(result.planned, context.deleting === true))
    })
  return columns
}

/** A host's plan in a few words: what is sent, kept, deleted; the release made and pruned. */
function planText(planned: PlannedCounts, deleting: boolean): string {
  const counts = `${planned.upload} to send, ${planned.unchanged} unchanged${deleting ? `, ${planned.delete} to delete` : ''}`
  if (planned.release === undefined) return counts
  const pruned =
    planned.prune === undefined || planned.prune.length === 0
      ? ''
      : `, then ${planned.prune.join(', ')} removed`
  return `${counts}; current → ${planned.release}${pruned}`
}

export function summaryMarkdown(results: readonly HostResult[], context: SummaryContext): string {
  const failed = results.filter((result) => result.status === 'failed').length
  const planned = results.some((result) => result.status === 'planned')
  const headline =
    failed > 0
      ? `${failed} of ${results.length} host(s) failed`
      : planned
        ? `Dry run: planned ${context.files} file(s), ${formatBytes(context.totalBytes)}, for ${results.length} host(s); nothing was written`
        : `Deployed ${context.files} file(s), ${formatBytes(context.totalBytes)}, to ${results.length} host(s)`
  const [oneTarget] = new Set(context.targets.values())
  const targetLine =
    new Set(context.targets.values()).size > 1 || oneTarget === undefined
      ? 'Each host its own target'
      : `Target \`${cell(oneTarget)}\``
  const extra = optionalColumns(results, context)
  const deleted = context.deleting === true
  const lines = [
    `### SSH Fan-out Deploy: ${cell(headline)}`,
    '',
    `${targetLine}, verify \`${context.verify}\`.`,
    '',
    ...(context.stopped === undefined
      ? []
      : [
          `**The rollout stopped ${cell(context.stopped)}**: the hosts not started are skipped.`,
          ''
        ]),
    `| Host |${extra.map((column) => ` ${column.header} |`).join('')} Status | Files | Uploaded | Skipped |${deleted ? ' Deleted |' : ''} Bytes | Attempts | Time | Error |`,
    `| --- |${extra.map(() => ' --- |').join('')} --- | ---: | ---: | ---: |${deleted ? ' ---: |' : ''} ---: | ---: | ---: | --- |`
  ]
  for (const result of results)
    lines.push(
      `| ${cell(result.host)} |${extra.map((column) => ` ${column.cell(result)} |`).join('')} ${STATUS_LABEL[result.status]} | ${result.files} | ${result.uploaded} | ${result.skipped} |${deleted ? ` ${result.deleted} |` : ''} ${formatBytes(result.bytes)} | ${result.attempts} | ${formatDuration(result.durationMs)} | ${cell(`${result.rolledBack === true ? 'rolled back: ' : ''}${result.error ?? ''}`)} |`
    )
  return `${lines.join('\n')}\n`
}
