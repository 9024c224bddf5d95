import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { udpBatchAvailability } from '../../../src/ingest/udp-batch.js';
import { ingestWorkerCount } from '../../../src/ingest/workers/setup.js';

const config = (flags: Record<string, string>) =>
  loadConfig({ flags: { 'hep.listen-address': '127.0.0.1:0', ...flags }, env: {} });

describe('how many ingest workers run', () => {
  it('runs the workers asked for with the addon, and one thread without it or for 1', () => {
    const addon = udpBatchAvailability().available;
    expect(ingestWorkerCount(config({ 'ingest.workers': '3' }))).toBe(addon ? 3 : 0);
    expect(ingestWorkerCount(config({ 'ingest.workers': '1' }))).toBe(0);
    expect(ingestWorkerCount(config({ 'ingest.workers': '3', 'ingest.udp-batch': 'false' }))).toBe(0);
  });

  it('reads HEP with one thread when packets are forwarded: the forwarder is the main thread', () => {
    const forwarding = config({ 'ingest.workers': '3', 'hep.forward-address': '127.0.0.1:9' });
    expect(ingestWorkerCount(forwarding)).toBe(0);
  });
});
