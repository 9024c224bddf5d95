import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { DELAY_BUCKETS } from '../../src/kpi/metrics.js';
import { summarize } from '../../src/replay/output.js';
import { replayFiles } from '../../src/replay/replay.js';
import { captureTools, run } from '../capture/peers.js';

/**
 * The demo capture (demo/lab.pcap, recorded by scripts/record-demo.ts from Kamailio on
 * 127.0.0.1:5060 and sipp) replayed: its call KPIs must be what tshark's dissection of the same
 * file says, call by call. Kamailio is the node: requests reach it on port 5060 and it answers
 * its callers from port 5060, so the upstream leg of every call is what crosses that port in
 * the caller's direction.
 */
const FILE = join(import.meta.dirname, '..', '..', 'demo', 'lab.pcap');

/** tshark fields of the SIP messages matching `filter`, one array per message. */
function fields(filter: string, names: string[]): string[][] {
  const { tshark } = captureTools();
  const out = run(tshark, ['-r', FILE, '-Y', filter, '-T', 'fields', ...names.flatMap((n) => ['-e', n])]);
  return out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.split('\t'));
}

/** The outcome each final status gets (docs/kpis.md); the capture holds these codes only. */
const OUTCOME: Record<string, string> = {
  '200': 'answered',
  '486': 'busy',
  '603': 'declined',
  '503': 'ineffective',
  '403': 'failed',
};

/** Counts per bucket (upper bound, +Inf as Infinity), not cumulative, as HistogramCell keeps them. */
function bucketsOf(delays: number[]): number[] {
  const counts = new Array<number>(DELAY_BUCKETS.length + 1).fill(0);
  for (const d of delays) {
    let i = 0;
    while (i < DELAY_BUCKETS.length && d > DELAY_BUCKETS[i]) i++;
    counts[i]++;
  }
  return counts;
}

describe('the demo capture, replayed, against tshark', () => {
  it('counts every call attempt with the outcome and delays tshark shows for it', async () => {
    // Attempts: initial INVITEs (no To tag) the proxy received, by Call-ID; the last CSeq is the
    // request the delays are measured from (after a 407, the INVITE with credentials).
    const invites = new Map<string, { cseq: string; at: number }>();
    for (const [time, callId, cseq] of fields(
      'sip.Method == "INVITE" && !sip.to.tag && udp.dstport == 5060',
      ['frame.time_epoch', 'sip.Call-ID', 'sip.CSeq.seq'],
    )) {
      const seen = invites.get(callId);
      if (seen === undefined || Number(cseq) > Number(seen.cseq))
        invites.set(callId, { cseq, at: Number(time) });
    }
    expect(invites.size).toBe(28);
    // Responses the proxy sent upstream, in capture order.
    const outcomes: Record<string, number> = {};
    const srd: number[] = [];
    const srdFailure: number[] = [];
    const pdd: number[] = [];
    const done = new Set<string>();
    const indicated = new Set<string>();
    const rang = new Set<string>();
    for (const [time, callId, cseq, status] of fields(
      'sip.CSeq.method == "INVITE" && sip.Status-Code && udp.srcport == 5060',
      ['frame.time_epoch', 'sip.Call-ID', 'sip.CSeq.seq', 'sip.Status-Code'],
    )) {
      const invite = invites.get(callId);
      if (invite === undefined || cseq !== invite.cseq || done.has(callId)) continue;
      const code = Number(status);
      const delay = Number(time) - invite.at;
      if (code === 100) continue;
      if (!indicated.has(callId)) {
        indicated.add(callId);
        // RFC 6076 4.3: a 1xx (but 100) or 2xx is a success, a 4xx-6xx a failure.
        (code < 300 ? srd : srdFailure).push(delay);
      }
      if ((code === 180 || code === 183) && !rang.has(callId)) {
        rang.add(callId);
        pdd.push(delay);
      }
      if (code >= 200) {
        done.add(callId);
        outcomes[OUTCOME[status]] = (outcomes[OUTCOME[status]] ?? 0) + 1;
      }
    }
    expect(done.size).toBe(invites.size);
    expect(srd.length + srdFailure.length).toBe(invites.size);
    expect(srdFailure.length).toBe(12);
    const registers = new Set(fields('sip.Method == "REGISTER"', ['sip.Call-ID']).map(([c]) => c));
    const registered = new Set(
      fields('sip.CSeq.method == "REGISTER" && sip.Status-Code == 200', ['sip.Call-ID']).map(([c]) => c),
    );

    const result = await replayFiles([FILE], { config: loadConfig({ env: {} }) });
    const [kpi, ...others] = summarize(result).kpis;
    expect(others).toEqual([]);
    for (const [outcome, count] of Object.entries(kpi.attempts))
      expect(count, outcome).toBe(outcomes[outcome] ?? 0);
    expect(kpi.attemptsTotal).toBe(invites.size);
    expect(kpi.openAttempts).toBe(0);
    expect(kpi.registrations).toEqual({
      registered: registered.size,
      failed: registers.size - registered.size,
      timeout: 0,
    });
    expect(registers.size).toBe(3);
    const f = result.kpi!.metrics.families;
    const cells = (name: string, result?: string) =>
      f.histograms
        .find((h) => h.name === name)!
        .allSeries.filter((s) => result === undefined || s.labels.result === result)
        .map((s) => Array.from(s.cell.counts));
    expect(cells('sip_session_request_delay_seconds', 'success')).toEqual([bucketsOf(srd)]);
    expect(cells('sip_session_request_delay_seconds', 'failure')).toEqual([bucketsOf(srdFailure)]);
    expect(cells('sip_post_dial_delay_seconds')).toEqual([bucketsOf(pdd)]);
    // Answered calls ring 300 ms after their INVITE and are answered 1.2 s later: SRD is the 180.
    expect(kpi.srd.success.p50).toBeGreaterThan(0.25);
    expect(kpi.srd.success.p50).toBeLessThan(0.5);
  });
});
