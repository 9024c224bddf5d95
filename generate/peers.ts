import {
  dashboard,
  instanceVariable,
  jobVariable,
  methodVariable,
  nodeVariable,
  type PanelSpec,
  queryVariable,
  RATE,
  sourceVariable,
} from './dashboards.js';
import { type AlertingRule, link, type RecordingRule, type RuleGroup, ratio } from './rules.js';
import { THRESHOLDS as T } from './thresholds.js';

/**
 * Rules and the dashboard for the per-peer families (docs/peers.md). Node is aggregated away:
 * the question is which carrier, and a carrier reached through several proxies is one carrier.
 */
const BY = 'job, instance, peer';
/** INVITE finals a peer sent; digest challenges are its normal answer, not an outcome. */
const INVITE_FINAL_FROM_PEER = 'direction="from_peer",method="INVITE",class!="1xx",code!~"401|407"';
/** OPTIONS answers that say the peer is there: anything but a timeout or "unavailable". */
const OPTIONS_ANSWERED = 'direction="from_peer",method="OPTIONS",class!="1xx",code!~"408|503"';
const OPTIONS_FAILED = 'direction="from_peer",method="OPTIONS",code=~"408|503"';
/** `other` gathers every address that matches no peer: no one carrier to alert about. */
const NAMED = 'peer!="other"';

const rate = (selector: string, by = BY, window = '5m') =>
  `sum by (${by}) (rate(sip_peer_responses_total{${selector}}[${window}]))`;

export function peerRuleGroups(): RuleGroup[] {
  const recording: RecordingRule[] = [
    { record: 'sip_peer:invite_final_from_peer:rate5m', expr: rate(INVITE_FINAL_FROM_PEER) },
    {
      // OPTIONS keepalives are left out: answered at every interval, they would dilute the share.
      record: 'sip_peer:invite_5xx_from_peer:ratio5m',
      expr: ratio(
        rate('direction="from_peer",method="INVITE",class="5xx"'),
        'sip_peer:invite_final_from_peer:rate5m',
      ),
    },
    {
      record: 'sip_peer_direction:responses_503:rate5m',
      expr: rate('code="503"', `${BY}, direction`),
    },
    {
      record: 'sip_peer_direction:retransmissions:rate5m',
      // ACK left out: Kamailio traces the ACK of a non-2xx final twice as received, which would
      // read as a retransmission of every failed call.
      expr: `sum by (${BY}, direction) (rate(sip_peer_retransmissions_total{method!="ACK"}[5m]))`,
    },
    { record: 'sip_peer:options_answered_from_peer:rate5m', expr: rate(OPTIONS_ANSWERED) },
    {
      record: 'sip_peer:options_failed_from_peer:ratio5m',
      expr: ratio(rate(OPTIONS_FAILED), rate('direction="from_peer",method="OPTIONS",class!="1xx"')),
    },
  ];
  const alerts: AlertingRule[] = [
    {
      alert: 'SIPPeerServerErrorRatioHigh',
      expr: `sip_peer:invite_5xx_from_peer:ratio5m{${NAMED}} > ${T.peerServerErrorRatioWarning}
and on (${BY})
sip_peer:invite_final_from_peer:rate5m > ${T.peerMinInviteFinalRate}`,
      for: '10m',
      labels: { severity: 'warning' },
      annotations: {
        summary: `More than ${T.peerServerErrorRatioWarning * 100}% of INVITE final responses from {{ $labels.peer }} are 5xx`,
        description:
          '{{ $value | humanizePercentage }} of the INVITE final responses peer {{ $labels.peer }} sent ' +
          '(seen by {{ $labels.instance }}) are server errors (5xx); OPTIONS answers are not counted.',
        runbook_url: link('SIPPeerServerErrorRatioHigh'),
      },
    },
    {
      alert: 'SIPPeerUnreachable',
      // As SIPNoResponses: "answered within the lookback" reads the recorded rate's history,
      // which outlives an exporter restart; judged per job and peer, so a replaced exporter
      // still hears the peer; an exporter that is down is SIPExporterDown's.
      expr: `max_over_time(sip_peer:options_answered_from_peer:rate5m{${NAMED}}[${T.noResponsesLookback}]) > 0
unless on (job, peer)
sum by (job, peer) (increase(sip_peer_responses_total{${OPTIONS_ANSWERED}}[${T.noResponsesFor}])) > 0
unless on (job, instance)
up == 0`,
      for: '5m',
      labels: { severity: 'critical' },
      annotations: {
        summary: 'Peer {{ $labels.peer }} has stopped answering OPTIONS',
        description:
          `Peer {{ $labels.peer }} answered up to {{ $value | printf "%.2f" }} OPTIONS per second in the last ${T.noResponsesLookback} ` +
          `(seen by {{ $labels.instance }}) but none in the last ${T.noResponsesFor}: the peer, or the path to it, is down.`,
        runbook_url: link('SIPPeerUnreachable'),
      },
    },
    {
      alert: 'SIPPeerUnreachable',
      expr: `sip_peer:options_failed_from_peer:ratio5m{${NAMED}} > ${T.peerOptionsFailureRatio}`,
      for: '5m',
      labels: { severity: 'warning' },
      annotations: {
        summary: 'Peer {{ $labels.peer }} answers OPTIONS with 408 or 503',
        description:
          '{{ $value | humanizePercentage }} of the OPTIONS answers from peer {{ $labels.peer }} ' +
          '(seen by {{ $labels.instance }}) are 408 Request Timeout or 503 Service Unavailable.',
        runbook_url: link('SIPPeerUnreachable'),
      },
    },
  ];
  return [
    { name: 'sip-response-exporter.peers.recording', rules: recording },
    { name: 'sip-response-exporter.peers.alerts', rules: alerts },
  ];
}

/** Everything a panel of the peers dashboard selects, by its variables. */
const P =
  'job=~"$job",instance=~"$instance",node=~"$node",method=~"$method",peer=~"$peer",direction=~"$direction"';

export function peersDashboard() {
  const peerVariable = queryVariable(
    'peer',
    'Peer',
    'label_values(sip_peer_responses_total{job=~"$job",instance=~"$instance"}, peer)',
  );
  const directionVariable = queryVariable(
    'direction',
    'Direction',
    'label_values(sip_peer_responses_total{job=~"$job",instance=~"$instance"}, direction)',
  );
  const specs: PanelSpec[] = [
    {
      title: 'Top peers by failures',
      description:
        'Peers with the most 4xx, 5xx and 6xx responses over the time range, by direction: from_peer is what the peer answered, to_peer what was answered to it. `other` is every address that matches no configured peer.',
      type: 'table',
      unit: 'short',
      targets: [
        {
          expr: `topk(10, sum by (peer, direction) (increase(sip_peer_responses_total{${P},class=~"4xx|5xx|6xx"}[$__range])))`,
          instant: true,
          format: 'table',
        },
      ],
    },
    {
      title: 'Answer ratio and top codes by peer',
      description:
        'Per peer over the time range: the share of INVITE final responses it sent that are 2xx (401/407 challenges left out; re-INVITEs count as answered, so with long calls this is above the share of calls answered), and its most frequent final codes.',
      type: 'table',
      unit: 'percentunit',
      targets: [
        {
          expr: `sum by (peer) (increase(sip_peer_responses_total{${P},direction="from_peer",method="INVITE",class="2xx"}[$__range]))
/
(sum by (peer) (increase(sip_peer_responses_total{${P},${INVITE_FINAL_FROM_PEER}}[$__range])) > 0)`,
          instant: true,
          format: 'table',
        },
        {
          expr: `topk(20, sum by (peer, direction, code, reason) (increase(sip_peer_responses_total{${P},class!="1xx"}[$__range])))`,
          unit: 'short',
          instant: true,
          format: 'table',
        },
      ],
    },
    {
      title: '5xx by peer and direction',
      description: 'Server errors per second, from each peer (its answers) and to it (answers it was sent).',
      type: 'timeseries',
      unit: 'ops',
      targets: [
        {
          expr: `sum by (peer, direction) (rate(sip_peer_responses_total{${P},class="5xx"}[${RATE}]))`,
          legendFormat: '{{peer}} {{direction}}',
        },
      ],
    },
    {
      title: '503 by peer and direction',
      description:
        '503 Service Unavailable per second: overload or no route, by the peer that sent or received it.',
      type: 'timeseries',
      unit: 'ops',
      targets: [
        {
          expr: `sum by (peer, direction) (rate(sip_peer_responses_total{${P},code="503"}[${RATE}]))`,
          legendFormat: '{{peer}} {{direction}}',
        },
      ],
    },
    {
      title: 'INVITE 5xx share by peer',
      description: `Share of the INVITE final responses each peer sent that are 5xx (OPTIONS left out); SIPPeerServerErrorRatioHigh fires above the red line with at least ${T.peerMinInviteFinalRate} INVITE finals per second.`,
      type: 'timeseries',
      unit: 'percentunit',
      threshold: T.peerServerErrorRatioWarning,
      min: 0,
      targets: [
        {
          expr: `sum by (peer) (rate(sip_peer_responses_total{${P},direction="from_peer",method="INVITE",class="5xx"}[${RATE}]))
/
(sum by (peer) (rate(sip_peer_responses_total{${P},${INVITE_FINAL_FROM_PEER}}[${RATE}])) > 0)`,
          legendFormat: '{{peer}}',
        },
      ],
    },
    {
      title: 'Retransmissions by peer and direction',
      description:
        'Requests and responses seen again at the same peer and direction within the dedupe window: a rising rate is the earliest sign of a lossy or overloaded trunk. ACK is left out: Kamailio traces the ACK of a failed call twice as received.',
      type: 'timeseries',
      unit: 'ops',
      targets: [
        {
          expr: `sum by (peer, direction) (rate(sip_peer_retransmissions_total{${P},method!="ACK"}[${RATE}]))`,
          legendFormat: '{{peer}} {{direction}}',
        },
      ],
    },
    {
      title: 'OPTIONS answers by peer',
      description:
        'OPTIONS keepalive answers each peer sent, by code. A peer whose answers stop, or turn to 408/503, is what SIPPeerUnreachable reports.',
      type: 'timeseries',
      unit: 'ops',
      width: 24,
      targets: [
        {
          expr: `sum by (peer, code) (rate(sip_peer_responses_total{job=~"$job",instance=~"$instance",node=~"$node",peer=~"$peer",direction="from_peer",method="OPTIONS"}[${RATE}]))`,
          legendFormat: '{{peer}} {{code}}',
        },
      ],
    },
  ];
  return dashboard(
    'sip-peers',
    'SIP peers',
    'SIP responses and requests by configured peer (carrier, trunk, customer) and direction, from sip_peer_* (docs/peers.md).',
    [
      jobVariable,
      instanceVariable,
      sourceVariable,
      nodeVariable,
      methodVariable,
      peerVariable,
      directionVariable,
    ],
    specs,
  );
}
