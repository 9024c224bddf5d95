import hep from 'hep-js';
import { REALISTIC_200_OK } from '../test/helpers/sip.js';

/** The Call-ID of the realistic response, which the benchmarks vary to make every packet distinct. */
export const TEMPLATE_CALL_ID = '3c26700a5e8f-8d2e@192.168.1.10';
/** Width of the counter written into each Call-ID. */
export const COUNTER_WIDTH = 10;

/** A HEPv3 packet of `payload` as Kamailio's siptrace on the edge proxy sends it, at a capture time. */
export function edgePacket(payload: string, timeSeconds: number, timeUseconds: number): Buffer {
  return hep.encapsulate(payload, {
    protocolFamily: 2,
    protocol: 17,
    srcIp: '10.20.30.1',
    dstIp: '10.20.30.40',
    srcPort: 5060,
    dstPort: 5060,
    timeSeconds,
    timeUseconds,
    payloadType: 1,
    captureId: 2001,
    hepNodeName: 'kamailio-edge-1',
  });
}

/** A realistic HEPv3 packet (a 200 OK with SDP, as Kamailio's siptrace sends it) with Call-ID number n. */
export function realisticPacket(n: number): Buffer {
  const callId = `${String(n).padStart(COUNTER_WIDTH, '0')}-${TEMPLATE_CALL_ID}`;
  return edgePacket(REALISTIC_200_OK.replace(TEMPLATE_CALL_ID, callId), 1_795_600_000, 1234);
}

/** Offset of the first counter digit inside a packet from realisticPacket(). */
export function counterOffset(packet: Buffer): number {
  const at = packet.indexOf(`-${TEMPLATE_CALL_ID}`) - COUNTER_WIDTH;
  if (at < 0) throw new Error('counter not found in template packet');
  return at;
}

/** The middle of the values (the upper one of the two middles for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
}

/**
 * Writes n as COUNTER_WIDTH decimal digits at `at`, in place, so a packet's Call-ID changes without a copy.
 * Integer steps below 2^31: the benchmarks call this for every message, and its cost is the
 * harness's, not the exporter's (double division made it about 50 ns a message).
 */
export function writeCounter(buf: Buffer, at: number, n: number): void {
  let i = at + COUNTER_WIDTH - 1;
  if (n >= 0x80000000) {
    for (; i >= at; i--) {
      buf[i] = 48 + (n % 10);
      n = Math.floor(n / 10);
    }
    return;
  }
  // Two digits a step; COUNTER_WIDTH is even.
  for (; i > at; i -= 2) {
    const q = (n / 100) | 0;
    const r = n - q * 100;
    const tens = (r / 10) | 0;
    buf[i] = 48 + r - tens * 10;
    buf[i - 1] = 48 + tens;
    n = q;
  }
}
