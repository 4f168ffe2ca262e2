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
    ...(result.errorClass === undefined ? {} : { errorClass: result.errorClass })
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
  readonly target: string
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
  const lines = [
    `### SSH Fan-out Deploy: ${cell(headline)}`,
    '',
    `Target \`${cell(context.target)}\`, verify \`${context.verify}\`.`,
    '',
    '| Host | Status | Files | Uploaded | Skipped | Bytes | Attempts | Time | Error |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |'
  ]
  for (const result of results) {
    lines.push(
      `| ${cell(result.host)} | ${STATUS_LABEL[result.status]} | ${result.files} | ${result.uploaded} | ${result.skipped} | ${formatBytes(result.bytes)} | ${result.attempts} | ${formatDuration(result.durationMs)} | ${cell(result.error ?? '')} |`
    )
  }
  return `${lines.join('\n')}\n`
}
