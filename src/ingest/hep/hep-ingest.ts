import { timingSafeEqual } from 'node:crypto';
import { unzipSync } from 'node:zlib';
import { SOURCE_HEP } from '../../count/node-sources.js';
import { Observation } from '../../count/observation.js';
import type { SipCounter } from '../../count/sip-counter.js';
import {
  HEP_PARSE_ERRORS,
  type HepListenerError,
  type HepParseError,
  OK,
  type Ok,
  ParseError,
  SIP_PARSE_ERRORS,
} from '../../errors.js';
import { ListenerStats, type SelfMetrics } from '../../metrics/self-metrics.js';
import { SIP_RESPONSE, SipMessageScan, scanSipMessage } from '../../sip/scan.js';
import { decodeHep, HEP_PAYLOAD_SIP, HepPacket } from './decode.js';

/** Where accepted HEP packets go besides the counting: the forwarder (src/forward/). */
export interface PacketForwarder {
  /** buf[start, end) is valid only during the call */
  forward(buf: Buffer, start: number, end: number): void;
}

export interface HepIngestOptions {
  /** when set, packets must carry this key in chunk 0x000e */
  authKey?: string;
  /** bound on an inflated compressed payload, in bytes */
  maxInflatedSize: number;
  /**
   * performance.timeOrigin of the clock `now` is on; an ingest worker passes the main thread's,
   * whose clock it stamps its packets with. This thread's own by default.
   */
  timeOrigin?: number;
}

/**
 * From one HEP packet to a counted SIP message: decode, authenticate, pick SIP payloads,
 * inflate when compressed, scan, name the node, count. Shared by the UDP and TCP listeners.
 * Nothing here throws or logs per packet; every rejection is a counter.
 */
export class HepIngest {
  readonly stats: ListenerStats<HepListenerError>;
  private readonly packet = new HepPacket();
  private readonly scan = new SipMessageScan();
  private readonly observation = new Observation();
  /** performance.now() counts from here: the arrival wall time of a packet without capture time */
  private readonly wallOrigin: number;
  private authKey: Buffer | null;
  private forwarder: PacketForwarder | null = null;
  /** what the counter's measurements read beyond the always-read SIP fields */
  private readonly scanFields: number;

  constructor(
    private readonly counter: SipCounter,
    private readonly self: SelfMetrics,
    private readonly options: HepIngestOptions,
  ) {
    const ids = [...HEP_PARSE_ERRORS, ...SIP_PARSE_ERRORS];
    this.stats = new ListenerStats(self, 'hep', {
      transports: ['udp', 'tcp'],
      parseErrorIds: ids,
      authFailures: true,
      requests: true,
    });
    this.authKey = options.authKey ? Buffer.from(options.authKey, 'utf8') : null;
    this.wallOrigin = options.timeOrigin ?? performance.timeOrigin;
    this.scanFields = counter.scanFields;
    this.observation.listener = SOURCE_HEP;
  }

  /** Replaces the auth key (empty: accept all), as a config reload does. */
  setAuthKey(key: string): void {
    this.authKey = key === '' ? null : Buffer.from(key, 'utf8');
  }

  /**
   * Sends every packet from now on that decodes as HEP and passes the auth key check to
   * `forwarder` as well, whatever its payload type and whether its SIP scans: the receiver
   * (Homer, heplify-server) decides what to keep. A packet that is not HEP, or fails the key,
   * is not forwarded.
   */
  setForwarder(forwarder: PacketForwarder | null): void {
    this.forwarder = forwarder;
  }

  /**
   * Brackets packets handled back to back, as a recvmmsg read hands them over: their dedupe
   * lookups wait until endBatch(), which does them together (SipCounter.deferDedupe). endBatch()
   * must follow before the caller returns to the event loop.
   */
  beginBatch(): void {
    this.counter.deferDedupe();
  }

  endBatch(): void {
    this.counter.flush();
  }

  /**
   * Handles the packet in buf[start, end). `sender` names the node when the packet names none
   * (HEPv1, or HEPv3 without capture ID or name). Returns OK or the ParseError id; never throws:
   * a packet whose handling fails unexpectedly is counted as HEP_INTERNAL and dropped, so one
   * packet cannot take the process down or close the TCP stream it came on. `now` is
   * performance.now() at arrival: it drives the dedupe window and stands in for a missing
   * capture time.
   */
  handle(buf: Buffer, start: number, end: number, sender: string, now: number): HepListenerError | Ok {
    try {
      return this.count(buf, start, end, sender, now);
    } catch {
      this.stats.parseErrors.count(ParseError.HEP_INTERNAL);
      return ParseError.HEP_INTERNAL;
    }
  }

  /** The per-packet work, kept out of handle() so the try/catch stays off the optimised body. */
  private count(buf: Buffer, start: number, end: number, sender: string, now: number): HepListenerError | Ok {
    const packet = this.packet;
    const stats = this.stats;
    let error: HepListenerError | Ok = decodeHep(buf, start, end, packet);
    if (error !== OK) {
      stats.parseErrors.count(error);
      return error;
    }
    if (this.authKey !== null && !this.authenticated(buf, packet)) {
      stats.authFailures.value++;
      return OK;
    }
    if (this.forwarder !== null) this.forwarder.forward(buf, start, end);
    const type = packet.payloadType;
    if (type === HEP_PAYLOAD_SIP) this.self.hepPayloadTypeCells[HEP_PAYLOAD_SIP].value++;
    else {
      this.self.payloadTypeCell(type).value++;
      return OK;
    }
    let payload = buf;
    let payloadStart = packet.payloadStart;
    let payloadEnd = packet.payloadEnd;
    if (packet.compressed) {
      const inflated = this.inflate(buf, payloadStart, payloadEnd);
      if (typeof inflated === 'number') {
        stats.parseErrors.count(inflated);
        return inflated;
      }
      payload = inflated;
      payloadStart = 0;
      payloadEnd = inflated.length;
    }
    const scan = this.scan;
    error = scanSipMessage(payload, payloadStart, payloadEnd, scan, this.scanFields);
    if (error !== OK) {
      stats.parseErrors.count(error);
      return error;
    }
    const nodes = this.counter.nodes;
    let node: number;
    if (packet.captureNameEnd > packet.captureNameStart) {
      node = nodes.fromBytes(buf, packet.captureNameStart, packet.captureNameEnd);
    } else if (packet.captureId >= 0) node = nodes.fromCaptureId(packet.captureId);
    else node = nodes.fromText(sender);
    this.counter.sources.seen(SOURCE_HEP, node, sender);
    if (scan.kind === SIP_RESPONSE) stats.responses.value++;
    else stats.requests.value++;
    this.counter.count(this.observe(packet, buf, payload, node, now));
    return OK;
  }

  /** Fills the reused observation; apart from count() so that V8 keeps that body small. */
  private observe(packet: HepPacket, buf: Buffer, payload: Buffer, node: number, now: number): Observation {
    const o = this.observation;
    o.setSip(this.scan, payload);
    o.node = node;
    o.now = now;
    if (packet.hasTime) o.setCaptureTime(packet.timeSeconds, packet.timeMicroseconds);
    else o.setArrivalTime(this.wallOrigin + now);
    o.sourceAddress.setBytes(buf, packet.sourceAddressStart, packet.sourceAddressEnd);
    o.destinationAddress.setBytes(buf, packet.destinationAddressStart, packet.destinationAddressEnd);
    o.sourcePort = packet.sourcePort;
    o.destinationPort = packet.destinationPort;
    o.transport = packet.ipProtocol;
    return o;
  }

  private authenticated(buf: Buffer, packet: HepPacket): boolean {
    const key = this.authKey!;
    if (packet.authKeyStart < 0) return false;
    const given = buf.subarray(packet.authKeyStart, packet.authKeyEnd);
    // timingSafeEqual needs equal lengths; compare the key with itself so a wrong length costs the same.
    if (given.length !== key.length) {
      timingSafeEqual(key, key);
      return false;
    }
    return timingSafeEqual(given, key);
  }

  private inflate(buf: Buffer, start: number, end: number): Buffer | HepParseError {
    try {
      // unzip reads both zlib and gzip streams; maxOutputLength stops a small bomb from growing large.
      return unzipSync(buf.subarray(start, end), { maxOutputLength: this.options.maxInflatedSize });
    } catch (err) {
      return (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE'
        ? ParseError.HEP_INFLATE_TOO_LARGE
        : ParseError.HEP_INFLATE_FAILED;
    }
  }
}
