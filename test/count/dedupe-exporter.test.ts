import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Exporter } from '../../src/exporter.js';
import { samples, sampleValue, scrape, startExporter } from '../helpers/exporter.js';
import { hep3 } from '../helpers/hep.js';
import { closeUdp, eventually, sendUdp, udpSender } from '../helpers/net.js';
import { sipResponse } from '../helpers/sip.js';

let exporter: Exporter | null = null;
afterEach(async () => {
  vi.useRealTimers();
  await exporter?.stop();
  exporter = null;
});

describe('dedupe evictions through /metrics', () => {
  it('shows every eviction in the very scrape that follows it, never a scrape late', async () => {
    // Four entries are one bucket of four ways: from the fifth distinct message on, each evicts one.
    exporter = await startExporter({ 'dedupe.max-entries': '4' });
    const e = exporter;
    const port = e.source('hep').listener!.udpPort;
    const socket = udpSender();
    let sent = 0;
    const batches = [3, 1, 6, 0, 9];
    for (const batch of batches) {
      for (let i = 0; i < batch; i++) {
        const callId = `evict-${sent}@example.com`;
        await sendUdp(socket, hep3({ payload: sipResponse({ code: 200, callId, toTag: 't' }) }), port);
        sent++;
      }
      // Wait on the ingest itself, not on a scrape, so that each scrape below is the first to
      // see the batch: a counter mirrored only at collection time would show the last batch here.
      await eventually(
        () => e.source('hep').ingest.stats.responses.value,
        (n) => n === sent,
      );
      const text = await scrape(e);
      const evictions = Math.max(0, sent - 4);
      expect([sent, sampleValue(text, 'sip_exporter_dedupe_evictions_total')]).toEqual([sent, evictions]);
      expect([sent, sampleValue(text, 'sip_exporter_dedupe_entries')]).toEqual([sent, Math.min(sent, 4)]);
      // Every message was distinct, so each was counted and none was a hit.
      expect(Object.values(samples(text, 'sip_responses_total')).reduce((a, b) => a + b, 0)).toBe(sent);
      expect(sampleValue(text, 'sip_exporter_dedupe_hits_total{kind="response"}')).toBe(0);
    }
    // A copy of the oldest message, evicted long ago, is counted again; a copy of the newest is a hit.
    const oldest = hep3({ payload: sipResponse({ code: 200, callId: 'evict-0@example.com', toTag: 't' }) });
    const newest = hep3({
      payload: sipResponse({ code: 200, callId: `evict-${sent - 1}@example.com`, toTag: 't' }),
    });
    await sendUdp(socket, newest, port);
    await sendUdp(socket, oldest, port);
    await eventually(
      () => e.source('hep').ingest.stats.responses.value,
      (n) => n === sent + 2,
    );
    const text = await scrape(e);
    expect(sampleValue(text, 'sip_exporter_dedupe_hits_total{kind="response"}')).toBe(1);
    expect(Object.values(samples(text, 'sip_responses_total')).reduce((a, b) => a + b, 0)).toBe(sent + 1);
    expect(sampleValue(text, 'sip_exporter_dedupe_evictions_total')).toBe(sent + 1 - 4);
    await closeUdp(socket);
  });
});

describe('dedupe window on the monotonic clock', () => {
  it('a wall-clock step either way neither replays a message nor stretches its window', async () => {
    const windowMs = 3000;
    exporter = await startExporter({ 'dedupe.window': `${windowMs}ms` });
    const e = exporter;
    const port = e.source('hep').listener!.udpPort;
    const socket = udpSender();
    const copy = hep3({ payload: sipResponse({ code: 486, callId: 'clock@example.com', toTag: 't' }) });
    let handled = 0;
    const send = async () => {
      await sendUdp(socket, copy, port);
      handled++;
      // Waits on real timers and the real monotonic clock; only Date is stepped below.
      await eventually(
        () => e.source('hep').ingest.stats.responses.value,
        (n) => n === handled,
      );
    };
    const counted = () => e.counter.countedResponses();
    const hits = () => e.self.dedupeHits.total();
    // Only Date is stepped, as NTP or an operator setting the clock would step it; it runs on between steps.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now(), shouldAdvanceTime: true });
    const start = performance.now();
    await send();
    expect([counted(), hits()]).toEqual([1, 0]);
    // An hour back: a wall-clock window would see the entry as from the future (or wrap) and count again.
    vi.setSystemTime(Date.now() - 3_600_000);
    await send();
    expect([counted(), hits()]).toEqual([1, 1]);
    // Two hours forward: a wall-clock window would see the entry as long expired.
    vi.setSystemTime(Date.now() + 7_200_000);
    await send();
    expect([counted(), hits()]).toEqual([1, 2]);
    // Every copy so far came within the real window; the steps must not have ended it early.
    expect(performance.now() - start).toBeLessThan(windowMs);
    // Back by a day: the window must not stretch either; once the real window has passed, the
    // message counts again.
    vi.setSystemTime(Date.now() - 86_400_000);
    await new Promise((r) => setTimeout(r, windowMs - (performance.now() - start) + 50));
    await send();
    expect([counted(), hits()]).toEqual([2, 2]);
    await closeUdp(socket);
  });
});
