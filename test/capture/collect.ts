import {
  type CapturedPacket,
  type CaptureOptions,
  type CaptureStats,
  dropsByLabel,
  readCapture,
} from '../../src/capture/index.js';

/** A decoded packet copied out of the reader's reused object. */
export interface Collected {
  tsSec: number;
  tsNsec: number;
  linkType: number;
  interfaceId: number;
  ipVersion: number;
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  transport: number;
  kind: number;
  reassembled: boolean;
  payload: string;
}

export function copyPacket(p: CapturedPacket): Collected {
  return {
    tsSec: p.tsSec,
    tsNsec: p.tsNsec,
    linkType: p.linkType,
    interfaceId: p.interfaceId,
    ipVersion: p.ipVersion,
    src: p.srcIp(),
    dst: p.dstIp(),
    srcPort: p.srcPort,
    dstPort: p.dstPort,
    transport: p.transport,
    kind: p.kind,
    reassembled: p.reassembled,
    payload: p.payloadCopy().toString('latin1'),
  };
}

export function collect(
  bytes: Uint8Array,
  options: CaptureOptions = {},
): { packets: Collected[]; stats: CaptureStats; drops: Record<string, number> } {
  const packets: Collected[] = [];
  const stats = readCapture(bytes, (p) => packets.push(copyPacket(p)), options);
  return { packets, stats, drops: dropsByLabel(stats.drops) };
}
