import { SOURCE_SYSLOG } from '../../count/node-sources.js';
import type { SipCounter } from '../../count/sip-counter.js';
import { ParseError, parseErrorIdsWithPrefix } from '../../errors.js';
import type { CounterCell } from '../../metrics/hot-counter.js';
import { ListenerStats, type SelfMetrics } from '../../metrics/self-metrics.js';
import { methodIndexOfString } from '../../sip/methods.js';
import { isValidStatusCode } from '../../sip/status-codes.js';
import type { Extractor } from './extractors.js';
import { parseSyslog } from './parse.js';

/**
 * From one syslog message to a counted SIP response: parse the header, try the extractors in
 * order (the first match wins), name the node by HOSTNAME (or what the extractor says, or the
 * sender's address), count. Shared by the UDP, TCP and TLS listeners.
 */
export class SyslogIngest {
  readonly stats: ListenerStats;
  private extractors: readonly Extractor[] = [];
  private matches: CounterCell[] = [];
  /** one cell per extractor name ever configured, so a reload keeps counting where it was */
  private readonly cellsByName = new Map<string, CounterCell>();
  private readonly unmatched: CounterCell;

  constructor(
    private readonly counter: SipCounter,
    private readonly self: SelfMetrics,
    extractors: readonly Extractor[],
  ) {
    this.stats = new ListenerStats(self, 'syslog', ['udp', 'tcp', 'tls'], parseErrorIdsWithPrefix('syslog_'));
    this.unmatched = self.syslogUnmatched.cell({});
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

  handle(frame: Buffer, sender: string, now: number): void {
    const message = parseSyslog(frame.toString('utf8'));
    if (message === null) {
      this.stats.parseErrors[ParseError.SYSLOG_MALFORMED].value++;
      return;
    }
    for (let i = 0; i < this.extractors.length; i++) {
      const found = this.extractors[i].extract(message.text);
      if (found === null) continue;
      this.matches[i].value++;
      if (!isValidStatusCode(found.code)) {
        this.stats.parseErrors[ParseError.SYSLOG_BAD_STATUS_CODE].value++;
        return;
      }
      const node = this.counter.nodes.fromText(found.node ?? message.host ?? sender);
      this.counter.sources.seen(SOURCE_SYSLOG, node, sender);
      this.stats.responses.value++;
      this.counter.countEvent(
        node,
        {
          code: found.code,
          method: methodIndexOfString(found.method),
          callId: found.callId,
          cseq: found.cseq,
          toTag: found.toTag,
        },
        now,
      );
      return;
    }
    this.unmatched.value++;
  }
}
