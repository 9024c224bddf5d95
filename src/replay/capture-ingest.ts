import { type CapturedPacket, PayloadKind } from '../capture/index.js';
import { SOURCE_HEP } from '../count/node-sources.js';
import { Observation } from '../count/observation.js';
import type { SipCounter } from '../count/sip-counter.js';
import { OK, SIP_PARSE_ERRORS, type SipParseError } from '../errors.js';
import { HepIngest, type HepIngestOptions } from '../ingest/hep/hep-ingest.js';
import { ListenerStats, type SelfMetrics } from '../metrics/self-metrics.js';
import { SIP_RESPONSE, SipMessageScan, scanSipMessage } from '../sip/scan.js';

/** The listener label of raw SIP read from a capture, in the self-metrics a replay keeps. */
export const REPLAY_LISTENER = 'replay';

export interface CaptureIngestOptions extends HepIngestOptions {
  /** node label of the raw SIP in the capture (HEP packets name their own node) */
  node: string;
  /** the listener label of raw SIP's self-metrics (default `replay`) */
  listener?: string;
  /**
   * Whether HEP packets are decoded (default true). Off, a HEP packet is counted as not SIP and
   * no HEP listener stats are made: a registry that also has the live HEP listener's keeps one
   * set.
   */
  hep?: boolean;
}

const TCP = 6;

/**
 * From one packet of a capture file to a counted message, through the same pieces live traffic
 * goes through: a HEP packet is handed whole to HepIngest (decode, auth key, inflate, scan, node
 * naming, count), a raw SIP message is scanned and counted as HEP's payload is
 * (scanSipMessage, Observation.setSip, SipCounter.count) under one configured node. The capture
 * time drives the dedupe window (`observation.now`) and stamps the observation, so messages expire
 * as they did on the wire, however fast the file is read.
 *
 * Not a Source: a Source is a listener the daemon starts, probes for readiness, lists on the
 * landing page and reloads; a replay runs to the end of its files and then reports. Anything that
 * feeds captured packets as live traffic wraps this class.
 */
export class CaptureIngest {
  readonly hep: HepIngest | null;
  /** raw SIP's packets, parse errors and messages, as a listener's are */
  readonly stats: ListenerStats<SipParseError>;
  /** raw SIP messages whose handling threw (a bug): lost, and shown in the summary */
  internalErrors = 0;
  private readonly scan = new SipMessageScan();
  private readonly observation = new Observation();
  private readonly node: number;
  private readonly scanFields: number;
  private view: Buffer | null = null;
  private viewOf: ArrayBufferLike | null = null;
  /** HEP sender text cache: the address bytes it was formatted from */
  private lastSender = '';
  private lastSenderKey = -1;

  constructor(
    private readonly counter: SipCounter,
    self: SelfMetrics,
    options: CaptureIngestOptions,
  ) {
    this.hep = options.hep === false ? null : new HepIngest(counter, self, options);
    this.stats = new ListenerStats(self, options.listener ?? REPLAY_LISTENER, {
      transports: ['udp', 'tcp'],
      parseErrorIds: SIP_PARSE_ERRORS,
      requests: true,
    });
    this.node = counter.nodes.fromText(options.node);
    this.scanFields = counter.scanFields;
    // Raw SIP is what a HEP packet carries; counted as HEP's payload is, it shares HEP's source id.
    this.observation.listener = SOURCE_HEP;
  }

  /**
   * Counts one packet; never throws (HEP's failures are `hep_internal`, raw SIP's internalErrors).
   * `now` is the expiry clock (dedupe, KPI timeouts): the capture time unless given, as when the
   * packets are played as live traffic on the exporter's own clock.
   */
  handle(packet: CapturedPacket, now = packet.tsSec * 1000 + packet.tsNsec / 1e6): void {
    const length = packet.payloadEnd - packet.payloadStart;
    if (packet.kind === PayloadKind.HEP) {
      if (this.hep === null) {
        // Without HEP the reader is given no HEP port, so none comes; should one, it is lost, seen.
        this.internalErrors++;
        return;
      }
      const stats = this.hep.stats;
      stats.packets.udp.value++;
      stats.bytes.udp.value += length;
      this.hep.handle(
        this.asBuffer(packet.payload),
        packet.payloadStart,
        packet.payloadEnd,
        this.sender(packet),
        now,
      );
      return;
    }
    const stats = this.stats;
    const tcp = packet.transport === TCP;
    (tcp ? stats.packets.tcp : stats.packets.udp).value++;
    (tcp ? stats.bytes.tcp : stats.bytes.udp).value += length;
    try {
      this.countSip(packet, now);
    } catch {
      // The scanner and the counter do not throw on bad input; should they, one message is lost
      // and shown in the summary, not the run.
      this.internalErrors++;
    }
  }

  private countSip(packet: CapturedPacket, now: number): void {
    const buf = this.asBuffer(packet.payload);
    const scan = this.scan;
    const error = scanSipMessage(buf, packet.payloadStart, packet.payloadEnd, scan, this.scanFields);
    if (error !== OK) {
      this.stats.parseErrors.count(error);
      return;
    }
    if (scan.kind === SIP_RESPONSE) this.stats.responses.value++;
    else this.stats.requests.value++;
    const o = this.observation;
    o.setSip(scan, buf);
    o.node = this.node;
    o.now = now;
    o.setCaptureTime(packet.tsSec, Math.floor(packet.tsNsec / 1000));
    const bytes = packet.ipVersion === 4 ? 4 : 16;
    o.sourceAddress.setBytes(packet.addressBuf, packet.srcOffset, packet.srcOffset + bytes);
    o.destinationAddress.setBytes(packet.addressBuf, packet.dstOffset, packet.dstOffset + bytes);
    o.sourcePort = packet.srcPort;
    o.destinationPort = packet.dstPort;
    o.transport = packet.transport;
    this.counter.count(o);
  }

  /**
   * The scanners take Buffers. The reader hands Buffers for records inside one chunk of the file
   * and its own reused Uint8Arrays for records across chunks, TCP streams and reassembly: one
   * Buffer view is made per such array and kept while the reader reuses it.
   */
  private asBuffer(payload: Uint8Array): Buffer {
    if (Buffer.isBuffer(payload)) return payload;
    if (payload.byteOffset !== 0) return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    if (this.viewOf !== payload.buffer || this.view === null) {
      this.viewOf = payload.buffer;
      this.view = Buffer.from(payload.buffer);
    }
    return this.view;
  }

  /** The HEP sender as the live listener names it: the packet's source address, as text. */
  private sender(packet: CapturedPacket): string {
    // HEP in a capture is rare next to raw SIP; a one-entry cache keyed by the first address
    // bytes keeps a long run from one agent from formatting each time.
    const b = packet.addressBuf;
    const o = packet.srcOffset;
    const key =
      packet.ipVersion === 4 ? ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0 : -2;
    if (key !== this.lastSenderKey || key === -2) {
      this.lastSender = packet.srcIp();
      this.lastSenderKey = key;
    }
    return this.lastSender;
  }
}
