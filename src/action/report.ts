// The run's results as the contract publishes them: step outputs, the job summary table and
// one error annotation per failed host. Pure formatting.

import type { HostResult, HostStatus } from '../deploy/result.js'
import { formatBytes } from '../format.js'
import { formatDuration } from '../config/duration.js'
import { oneLine } from '../errors.js'

export function buildOutputs(
  results: readonly HostResult[],
  fileCount: number
): Record<string, string> {
  const succeeded = results.filter((result) => result.status === 'success').map((r) => r.host)
  const failed = results.filter((result) => result.status === 'failed').map((r) => r.host)
  const ordered = results.map((result) => ({
    host: result.host,
    status: result.status,
    files: result.files,
    uploaded: result.uploaded,
    skipped: result.skipped,
    bytes: result.bytes,
    resumedBytes: result.resumedBytes,
    attempts: result.attempts,
    durationMs: result.durationMs,
    ...(result.error === undefined ? {} : { error: oneLine(result.error) }),
    ...(result.errorClass === undefined ? {} : { errorClass: result.errorClass }),
    ...(result.jump === undefined ? {} : { jump: result.jump })
  }))
  return {
    results: JSON.stringify(ordered),
    'succeeded-hosts': JSON.stringify(succeeded),
    'failed-hosts': JSON.stringify(failed),
    'succeeded-count': String(succeeded.length),
    'failed-count': String(failed.length),
    files: String(fileCount),
    bytes: String(results.reduce((sum, result) => sum + result.bytes, 0))
  }
}

function cell(text: string): string {
  return oneLine(text).replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

const STATUS_LABEL: Readonly<Record<HostStatus, string>> = {
  success: '✅ success',
  failed: '❌ failed',
  skipped: '⏭️ skipped'
}

export interface SummaryContext {
  /** Each host's target, by its label. */
  readonly targets: ReadonlyMap<string, string>
  readonly files: number
  readonly totalBytes: number
  readonly verify: string
}

export function summaryMarkdown(results: readonly HostResult[], context: SummaryContext): string {
  const failed = results.filter((result) => result.status === 'failed').length
  const headline =
    failed === 0
      ? `Deployed ${context.files} file(s), ${formatBytes(context.totalBytes)}, to ${results.length} host(s)`
      : `${failed} of ${results.length} host(s) failed`
  const targets = new Set(context.targets.values())
  const [oneTarget] = targets.size === 1 ? targets : []
  // Columns a run without inventory targets or jump hosts does not need.
  const perHostTarget = oneTarget === undefined
  const via = results.some((result) => result.jump !== undefined)
  const lines = [
    `### SSH Fan-out Deploy: ${cell(headline)}`,
    '',
    `${oneTarget === undefined ? 'Each host its own target' : `Target \`${cell(oneTarget)}\``}, verify \`${context.verify}\`.`,
    '',
    `| Host |${perHostTarget ? ' Target |' : ''}${via ? ' Via |' : ''} Status | Files | Uploaded | Skipped | Bytes | Attempts | Time | Error |`,
    `| --- |${perHostTarget ? ' --- |' : ''}${via ? ' --- |' : ''} --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |`
  ]
  for (const result of results) {
    const target = perHostTarget ? ` ${cell(context.targets.get(result.host) ?? '')} |` : ''
    const chain = via ? ` ${cell(result.jump?.join(' → ') ?? '')} |` : ''
    lines.push(
      `| ${cell(result.host)} |${target}${chain} ${STATUS_LABEL[result.status]} | ${result.files} | ${result.uploaded} | ${result.skipped} | ${formatBytes(result.bytes)} | ${result.attempts} | ${formatDuration(result.durationMs)} | ${cell(result.error ?? '')} |`
    )
  }
  return `${lines.join('\n')}\n`
}
