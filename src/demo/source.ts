import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { CapturedPacket, PayloadKind, readCapture } from '../capture/index.js';
import { CODE, OK, SreError } from '../errors.js';
import { activity, type Source, type SourceDeps, type SourceEndpoint } from '../ingest/source.js';
import { CaptureIngest } from '../replay/capture-ingest.js';
import { SipMessageScan, scanSipMessage } from '../sip/scan.js';
import { PACKAGE_ROOT } from '../version.js';

/** The node label, and the listener label of the self-metrics, of everything the demo plays. */
export const DEMO_NODE = 'demo';
/** The capture bundled with the package: lab calls through Kamailio (docs/demo.md). */
export const DEMO_CAPTURE = join('demo', 'lab.pcap');
/** Capture time between the end of one pass and the start of the next. */
export const PASS_GAP_MS = 1500;
/** Highest --demo.speed: faster, a pass's packets would mostly come in one timer tick. */
export const MAX_DEMO_SPEED = 1000;

export interface DemoOptions {
  /** playback speed: 1 plays the capture in real time, 10 ten times faster (delays shrink alike) */
  speed: number;
  /** the capture to play; the bundled one when not given */
  file?: string;
}

/**
 * One SIP message of the capture, kept for every pass: its payload with room for a pass number
 * at the end of its Call-ID, where each pass writes its own, so that dedupe and the call KPIs
 * see new calls every pass (the length, and so Content-Length, is the same in every pass).
 */
interface DemoMessage {
  /** capture time from the first message, ms */
  offsetMs: number;
  payload: Buffer;
  /** where the pass digits are written (-1: no Call-ID found; the message is played as it is) */
  passAt: number;
  /** source address at 0, destination at 16 */
  addresses: Uint8Array;
  ipVersion: 4 | 6;
  srcPort: number;
  dstPort: number;
  transport: number;
}

/** `-demo` and six digits of the pass number (modulo a million), appended to each Call-ID. */
const PASS_SUFFIX = Buffer.from('-demo000000');
const PASS_DIGITS = 6;

/** Reads the capture's SIP messages once, with room for the pass number in each Call-ID. */
export function demoMessages(bytes: Uint8Array): DemoMessage[] {
  const messages: DemoMessage[] = [];
  const scan = new SipMessageScan();
  readCapture(
    bytes,
    (p) => {
      if (p.kind !== PayloadKind.SIP) return;
      const ms = p.tsSec * 1000 + p.tsNsec / 1e6;
      const original = Buffer.from(p.payload.subarray(p.payloadStart, p.payloadEnd));
      let payload = original;
      let passAt = -1;
      if (scanSipMessage(original, 0, original.length, scan, 0) === OK && scan.callIdEnd > scan.callIdStart) {
        payload = Buffer.concat([
          original.subarray(0, scan.callIdEnd),
          PASS_SUFFIX,
          original.subarray(scan.callIdEnd),
        ]);
        passAt = scan.callIdEnd + PASS_SUFFIX.length - PASS_DIGITS;
      }
      const length = p.ipVersion === 4 ? 4 : 16;
      const addresses = new Uint8Array(32);
      addresses.set(p.addressBuf.subarray(p.srcOffset, p.srcOffset + length), 0);
      addresses.set(p.addressBuf.subarray(p.dstOffset, p.dstOffset + length), 16);
      messages.push({
        // capture time for now; made relative to the earliest below
        offsetMs: ms,
        payload,
        passAt,
        addresses,
        ipVersion: p.ipVersion,
        srcPort: p.srcPort,
        dstPort: p.dstPort,
        transport: p.transport,
      });
    },
    // No HEP port: whatever is in the file is played as raw SIP under the demo node.
    { hepPorts: [] },
  );
  // Captures merged out of order still play in time order, from the earliest message.
  messages.sort((a, b) => a.offsetMs - b.offsetMs);
  const first = messages.length === 0 ? 0 : messages[0].offsetMs;
  for (const m of messages) m.offsetMs -= first;
  return messages;
}

/**
 * `--demo`: the bundled capture played in a loop as live traffic, through the replay's ingest
 * (SIP scan, SipCounter, dedupe, call KPIs, peers) under node `demo`. Each pass starts now:
 * capture times are shifted to the wall clock, packets are paced as they were captured (divided
 * by the speed), and every Call-ID gets the pass number, so that no pass is a duplicate of the
 * one before. The expiry clock is the exporter's own, as for any live source.
 */
export class DemoSource implements Source {
  readonly name = DEMO_NODE;
  private readonly ingest: CaptureIngest;
  private readonly packet = new CapturedPacket();
  private messages: DemoMessage[] = [];
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private file = '';
  /** the pass being played, from 0 */
  pass = 0;
  /**
   * Called as each pass begins, before any of its messages is played (pass 1 once the first
   * pass is complete): the numbers then hold exactly the passes before it.
   */
  onPass: ((pass: number) => void) | null = null;
  private index = 0;
  /** monotonic and wall time (ms) of the current pass's first message */
  private passMono = 0;
  private passWall = 0;
  private passMs = 0;

  constructor(
    private readonly options: DemoOptions,
    private readonly deps: SourceDeps,
  ) {
    this.ingest = new CaptureIngest(deps.counter, deps.self, {
      node: DEMO_NODE,
      listener: DEMO_NODE,
      hep: false,
      // HEP is never decoded here (no HEP port): its bound is moot.
      maxInflatedSize: 0,
    });
    deps.arrivals.watch(DEMO_NODE, 'udp', this.ingest.stats.packets.udp);
    deps.arrivals.watch(DEMO_NODE, 'tcp', this.ingest.stats.packets.tcp);
  }

  get ready(): boolean {
    return this.running;
  }

  async start(logger: Logger): Promise<void> {
    const file =
      this.options.file ?? (PACKAGE_ROOT === undefined ? DEMO_CAPTURE : join(PACKAGE_ROOT, DEMO_CAPTURE));
    let messages: DemoMessage[];
    try {
      messages = demoMessages(await readFile(file));
    } catch (err) {
      throw new SreError(
        CODE.SRE_ERR_DEMO_FILE,
        `cannot read the demo capture ${file}: ${(err as Error).message}`,
      );
    }
    if (messages.length === 0)
      throw new SreError(CODE.SRE_ERR_DEMO_FILE, `the demo capture ${file} holds no SIP`);
    this.file = file;
    this.messages = messages;
    this.passMs = messages[messages.length - 1].offsetMs + PASS_GAP_MS;
    this.running = true;
    this.beginPass(0, performance.now());
    logger.warn(
      {
        code: CODE.SRE_WARN_DEMO,
        capture: file,
        messages: messages.length,
        pass_seconds: Math.round(this.passMs / this.options.speed / 100) / 10,
        node: DEMO_NODE,
      },
      'DEMO MODE: playing the bundled lab capture in a loop as node="demo"; these numbers are not real traffic',
    );
    this.tick();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  endpoints(): SourceEndpoint[] {
    if (!this.running) return [];
    return [
      {
        name: 'DEMO: bundled lab capture, not real traffic',
        transports: 'udp',
        address: `${this.file} (pass ${this.pass + 1}, node="${DEMO_NODE}")`,
        activity: activity(this.deps.arrivals, DEMO_NODE, ['udp']),
      },
    ];
  }

  packetsReceived(): Record<string, number> {
    return { udp: this.ingest.stats.packets.udp.value, tcp: this.ingest.stats.packets.tcp.value };
  }

  /** Writes the pass number into every Call-ID and restarts the pass clock at `mono`. */
  private beginPass(pass: number, mono: number): void {
    this.pass = pass;
    this.index = 0;
    this.passMono = mono;
    this.passWall = Date.now() - (performance.now() - mono);
    let n = pass % 10 ** PASS_DIGITS;
    const digits: number[] = [];
    for (let i = 0; i < PASS_DIGITS; i++) {
      digits.push(48 + (n % 10));
      n = Math.floor(n / 10);
    }
    for (const m of this.messages) {
      if (m.passAt < 0) continue;
      for (let i = 0; i < PASS_DIGITS; i++) m.payload[m.passAt + i] = digits[PASS_DIGITS - 1 - i];
    }
    this.onPass?.(pass);
  }

  /** Plays what is due, starts the next pass when this one is over, and sleeps until the next message. */
  private readonly tick = (): void => {
    this.timer = null;
    if (!this.running) return;
    const speed = this.options.speed;
    const messages = this.messages;
    // A pass's hook may stop the source: nothing more is played then.
    while (this.running) {
      const now = performance.now();
      const due = (now - this.passMono) * speed;
      while (this.index < messages.length && messages[this.index].offsetMs <= due)
        this.play(messages[this.index++], now);
      if (this.index < messages.length) {
        this.schedule(this.passMono + messages[this.index].offsetMs / speed - now);
        return;
      }
      // The next pass starts a fixed time after this one, however late the timer fired.
      const next = this.passMono + this.passMs / speed;
      if (now < next) {
        this.schedule(next - now);
        return;
      }
      this.beginPass(this.pass + 1, next);
    }
  };

  private schedule(ms: number): void {
    this.timer = setTimeout(this.tick, Math.max(0, ms));
    // Never the reason the process stays up: the HTTP server is.
    this.timer.unref();
  }

  private play(m: DemoMessage, now: number): void {
    const p = this.packet;
    const captureMs = this.passWall + m.offsetMs / this.options.speed;
    p.tsSec = Math.floor(captureMs / 1000);
    p.tsNsec = Math.round((captureMs - p.tsSec * 1000) * 1e6);
    if (p.tsNsec >= 1e9) p.tsNsec = 999_999_999;
    p.ipVersion = m.ipVersion;
    p.addressBuf = m.addresses;
    p.srcOffset = 0;
    p.dstOffset = 16;
    p.srcPort = m.srcPort;
    p.dstPort = m.dstPort;
    p.transport = m.transport;
    p.kind = PayloadKind.SIP;
    p.payload = m.payload;
    p.payloadStart = 0;
    p.payloadEnd = m.payload.length;
    this.ingest.handle(p, now);
  }
}
