import hep from 'hep-js';
import { REALISTIC_200_OK } from '../test/helpers/sip.js';

/** The Call-ID of the realistic response, which the benchmarks vary to make every packet distinct. */
export const TEMPLATE_CALL_ID = '3c26700a5e8f-8d2e@192.168.1.10';
/** Width of the counter written into each Call-ID. */
export const COUNTER_WIDTH = 10;

/** A realistic HEPv3 packet (a 200 OK with SDP, as Kamailio's siptrace sends it) with Call-ID number n. */
export function realisticPacket(n: number): Buffer {
  const callId = `${String(n).padStart(COUNTER_WIDTH, '0')}-${TEMPLATE_CALL_ID}`;
  return hep.encapsulate(REALISTIC_200_OK.replace(TEMPLATE_CALL_ID, callId), {
    protocolFamily: 2,
    protocol: 17,
    srcIp: '10.20.30.1',
    dstIp: '10.20.30.40',
    srcPort: 5060,
    dstPort: 5060,
    timeSeconds: 1_795_600_000,
    timeUseconds: 1234,
    payloadType: 1,
    captureId: 2001,
    hepNodeName: 'kamailio-edge-1',
  });
}

/** Offset of the first counter digit inside a packet from realisticPacket(). */
export function counterOffset(packet: Buffer): number {
  const at = packet.indexOf(`-${TEMPLATE_CALL_ID}`) - COUNTER_WIDTH;
  if (at < 0) throw new Error('counter not found in template packet');
  return at;
}
