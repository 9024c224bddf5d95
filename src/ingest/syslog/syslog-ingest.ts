import { SOURCE_SYSLOG } from '../../count/node-sources.js';
import { KIND_RESPONSE, Observation } from '../../count/observation.js';
import type { SipCounter } from '../../count/sip-counter.js';
import { ParseError, SYSLOG_PARSE_ERRORS, type SyslogParseError } from '../../errors.js';
import type { CounterCell } from '../../metrics/hot-counter.js';
import { ListenerStats, type SelfMetrics } from '../../metrics/self-metrics.js';
import { isValidStatusCode } from '../../sip/status-codes.js';
import { type Extractor, observeExtracted } from './extractors.js';
import { parseSyslog } from './parse.js';

/**
 * From one syslog message to a counted SIP response: parse the header, try the extractors in
 * order (the first match wins), name the node by HOSTNAME (or what the extractor says, or the
 * sender's address), count. Shared by the UDP, TCP and TLS listeners.
 */
export class SyslogIngest {
  readonly stats: ListenerStats<SyslogParseError>;
  private extractors: readonly Extractor[] = [];
  private matches: CounterCell[] = [];
  /** one cell per extractor name ever configured, so a reload keeps counting where it was */
  private readonly cellsByName = new Map<string, CounterCell>();
  private readonly unmatched: CounterCell;
  private readonly observation = new Observation();
  /** performance.now() counts from here: a log line's arrival wall time */
  private readonly wallOrigin = performance.timeOrigin;

  constructor(
    private readonly counter: SipCounter,
    private readonly self: SelfMetrics,
    extractors: readonly Extractor[],
  ) {
    // Syslog extractors find responses only: no request series, and no auth key.
    this.stats = new ListenerStats(self, 'syslog', {
      transports: ['udp', 'tcp', 'tls'],
      parseErrorIds: SYSLOG_PARSE_ERRORS,
    });
    this.unmatched = self.syslogUnmatched.cell({});
    this.observation.listener = SOURCE_SYSLOG;
    this.setExtractors(extractors);
  }

  /** Replaces the ordered extractor list, as a config reload does. */
  setExtractors(extractors: readonly Extractor[]): void {
    this.matches = extractors.map((e) => {
      let cell = this.cellsByName.get(e.name);
      if (cell === undefined) {
        cell = this.self.syslogMatches.cell({ extractor: e.name });
        this.cellsByName.set(e.name, cell);
      }
      return cell;
    });
    this.extractors = extractors;
  }

  /**
   * Handles one message; never throws. Whatever fails inside is one counted, dropped message, so a
   * single line (or a bug it finds) can neither take the process down nor close the connection
   * carrying it. Each message ends as exactly one of: a match, unmatched, or a parse error.
   */
  handle(frame: Buffer, sender: string, now: number): void {
    try {
      this.count(frame, sender, now);
    } catch {
      this.stats.parseErrors.count(ParseError.SYSLOG_UNPARSEABLE);
    }
  }

  /** The per-message work, kept out of handle() so the try/catch stays off the optimised body. */
  private count(frame: Buffer, sender: string, now: number): void {
    const message = parseSyslog(frame.toString('utf8'));
    if (typeof message === 'number') {
      this.stats.parseErrors.count(message);
      return;
    }
    const o = this.observation;
    for (let i = 0; i < this.extractors.length; i++) {
      const extractor = this.extractors[i];
      let nodeName: string | undefined;
      if (extractor.observe !== undefined) {
        if (!extractor.observe(message.text, o)) continue;
        // A logged SIP message carries no addresses.
        o.clearPeers();
      } else {
        const found = extractor.extract(message.text);
        if (found === null) continue;
        observeExtracted(found, o);
        nodeName = found.node;
      }
      if (o.kind !== KIND_RESPONSE || !isValidStatusCode(o.statusCode)) {
        this.stats.parseErrors.count(ParseError.SYSLOG_BAD_STATUS_CODE);
        return;
      }
      const node = this.counter.nodes.fromText(nodeName ?? message.host ?? sender);
      this.counter.sources.seen(SOURCE_SYSLOG, node, sender);
      o.node = node;
      o.now = now;
      // Syslog headers carry a timestamp, but to the second at best and in the sender's clock.
      o.setArrivalTime(this.wallOrigin + now);
      this.counter.count(o);
      // Counted last, so a message that fails on the way is the one parse error and nothing else.
      this.matches[i].value++;
      this.stats.responses.value++;
      return;
    }
    this.unmatched.value++;
  }
}
