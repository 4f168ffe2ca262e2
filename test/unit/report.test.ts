import { describe, expect, test } from 'vitest'
import { formatBytes } from '../../src/format.js'
import { buildOutputs, summaryMarkdown } from '../../src/action/report.js'
import { type HostResult } from '../../src/deploy/result.js'

const results: HostResult[] = [
  {
    host: 'a@h1:22',
    status: 'success',
    files: 3,
    uploaded: 2,
    skipped: 1,
    deleted: 0,
    bytes: 2048,
    resumedBytes: 0,
    attempts: 1,
    durationMs: 1200
  },
  {
    host: 'b@h2:2222',
    status: 'failed',
    files: 3,
    uploaded: 0,
    skipped: 0,
    deleted: 0,
    bytes: 10,
    resumedBytes: 4,
    attempts: 4,
    durationMs: 9000,
    error: 'connect ECONNREFUSED\nsecond | line <b>',
    errorClass: 'network'
  },
  {
    host: 'c@[::1]:22',
    status: 'skipped',
    files: 3,
    uploaded: 0,
    skipped: 0,
    deleted: 0,
    bytes: 0,
    resumedBytes: 0,
    attempts: 0,
    durationMs: 0,
    error: 'not attempted'
  }
]

describe('report', () => {
  test('outputs of the contract', () => {
    const outputs = buildOutputs(results, 3)
    expect(JSON.parse(outputs['succeeded-hosts'] ?? '')).toEqual(['a@h1:22'])
    expect(JSON.parse(outputs['failed-hosts'] ?? '')).toEqual(['b@h2:2222'])
    expect(outputs['succeeded-count']).toBe('1')
    expect(outputs['failed-count']).toBe('1')
    expect(outputs.files).toBe('3')
    expect(outputs.bytes).toBe('2058')
    const parsed = JSON.parse(outputs.results ?? '') as Record<string, unknown>[]
    expect(parsed.map((result) => result.host)).toEqual(['a@h1:22', 'b@h2:2222', 'c@[::1]:22'])
    expect(parsed[1]).toEqual({
      host: 'b@h2:2222',
      status: 'failed',
      files: 3,
      uploaded: 0,
      skipped: 0,
      deleted: 0,
      bytes: 10,
      attempts: 4,
      durationMs: 9000,
      resumedBytes: 4,
      error: 'connect ECONNREFUSED second | line <b>',
      errorClass: 'network',
      rolledBack: false
    })
    expect(parsed[0]).not.toHaveProperty('error')
  })

  test('summary: one row per host, cells escaped', () => {
    const markdown = summaryMarkdown(results, {
      targets: new Map(results.map((result) => [result.host, '/srv'])),
      files: 3,
      totalBytes: 2048,
      verify: 'sha256'
    })
    const rows = markdown
      .split('\n')
      .filter(
        (line) => line.startsWith('| ') && !line.startsWith('| Host') && !line.startsWith('| ---')
      )
    expect(rows).toHaveLength(3)
    expect(rows[1]).toContain('❌ failed')
    expect(rows[1]).toContain('second \\| line &lt;b&gt;')
    expect(markdown).toContain('1 of 3 host(s) failed')
  })

  test('bytes for people', () => {
    expect(formatBytes(512)).toBe('512 B')
    expect(formatBytes(1536)).toBe('1.50 KiB')
    expect(formatBytes(20 * 1024 * 1024)).toBe('20.0 MiB')
  })
})
