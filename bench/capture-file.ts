/**
 * The capture files the capture and replay benches read: realistic 200 OK responses with SDP and
 * distinct Call-IDs, one packet in ten on TCP, one in ten VLAN-tagged, written in batches so
 * that a large file is never built in memory whole.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { LinkType } from '../src/capture/index.js';
import { ethernet, ipv4, pcap, pcapng, TCP_ACK, TCP_PSH, tcp, udp } from '../test/capture/build.js';
import { REALISTIC_200_OK } from '../test/helpers/sip.js';
import { TEMPLATE as CALL_TEMPLATE, callMessages } from './call-mix.js';
import { COUNTER_WIDTH, TEMPLATE_CALL_ID } from './packets.js';

const BATCH = 10_000;

const TEMPLATE = REALISTIC_200_OK;

function frame(n: number, tcpSeq: { value: number }): Uint8Array {
  const message = TEMPLATE.replace(TEMPLATE_CALL_ID, `${String(n).padStart(10, '0')}-${TEMPLATE_CALL_ID}`);
  if (n % 10 === 3) {
    const e = { src: '10.20.30.2', dst: '10.20.30.40', srcPort: 5060, dstPort: 35000 };
    const seg = tcp(e, tcpSeq.value, TCP_ACK | TCP_PSH, message);
    tcpSeq.value = (tcpSeq.value + Buffer.byteLength(message)) >>> 0;
    return ethernet(ipv4(e, 6, seg));
  }
  const e = { src: '10.20.30.1', dst: '10.20.30.40', srcPort: 5060, dstPort: 5060 };
  const ip = ipv4(e, 17, udp(e, message));
  return n % 10 === 7 ? ethernet(ip, [{ tpid: 0x8100, vid: 100 }]) : ethernet(ip);
}

/**
 * Writes a pcap of whole calls at a proxy traced in and out (bench/call-mix.ts: INVITE, 100,
 * 180, 200, ACK, BYE and its 200, 14 packets a call), about `packets` packets: a call every
 * millisecond, its messages 20 ms apart and the BYE 90 s after the answer, each call its own
 * Call-ID. The call KPIs follow every call of it, unlike the 200 OKs of `generate`.
 */
export function generateCalls(path: string, packets: number): number {
  const messages = callMessages();
  const e = { src: '10.20.30.1', dst: '10.20.30.40', srcPort: 5060, dstPort: 5060 };
  const calls = Math.ceil(packets / messages.length);
  const records: Array<{ at: number; data: Uint8Array }> = [];
  for (let c = 0; c < calls; c++) {
    const callId = String(c).padStart(COUNTER_WIDTH, '0');
    for (let i = 0; i < messages.length; i++) {
      const at = c * 1_000 + i * 20_000 + (i >= 10 ? 90_000_000 : 0);
      const sip = messages[i].replace(
        `${'0'.repeat(COUNTER_WIDTH)}${CALL_TEMPLATE}`,
        `${callId}${CALL_TEMPLATE}`,
      );
      records.push({ at, data: ethernet(ipv4(e, 17, udp(e, sip))) });
    }
  }
  records.sort((a, b) => a.at - b.at);
  const fd = openSync(path, 'w');
  for (let start = 0; start < records.length; start += BATCH) {
    const file = pcap(
      records.slice(start, start + BATCH).map((r) => ({
        sec: 1_795_600_000 + Math.floor(r.at / 1_000_000),
        frac: r.at % 1_000_000,
        data: r.data,
      })),
      { linkType: LinkType.ETHERNET },
    );
    writeSync(fd, start === 0 ? file : file.subarray(24));
  }
  closeSync(fd);
  return records.length;
}

/** Writes `packets` frames to `path` as pcap, or as pcapng when `ng`. */
export function generate(path: string, ng: boolean, packets: number): void {
  const fd = openSync(path, 'w');
  const seq = { value: 1 };
  for (let start = 0; start < packets; start += BATCH) {
    const frames: Uint8Array[] = [];
    for (let n = start; n < Math.min(packets, start + BATCH); n++) frames.push(frame(n, seq));
    let bytes: Uint8Array;
    if (ng) {
      const file = pcapng([
        {
          interfaces: [{ linkType: LinkType.ETHERNET }],
          packets: frames.map((data, i) => ({
            interfaceId: 0,
            ts: BigInt(1_795_600_000_000_000 + start + i),
            data,
          })),
        },
      ]);
      // Each batch is a section of its own; sections may follow one another in one file.
      bytes = file;
    } else {
      const file = pcap(
        frames.map((data, i) => ({ sec: 1_795_600_000, frac: (start + i) % 1_000_000, data })),
        { linkType: LinkType.ETHERNET },
      );
      bytes = start === 0 ? file : file.subarray(24);
    }
    writeSync(fd, bytes);
  }
  closeSync(fd);
}
