import {
  dashboard,
  type HeatmapSpec,
  instanceVariable,
  jobVariable,
  type PanelSpec,
  queryVariable,
  RATE,
  type Spec,
} from './dashboards.js';
import { THRESHOLDS as T } from './thresholds.js';

/**
 * The "Call KPIs" dashboard: attempts by outcome, the RFC 6076 and ITU-T ratios per node, setup
 * delays and durations as heatmaps beside their p50 and p95, active sessions and release causes,
 * and a row per peer. Its nodes are those with attempts, which only HEP (and capture replay) gives.
 */

const K = 'job=~"$job",instance=~"$instance",node=~"$node"';
/** The peer row's selection: the peers and directions chosen, on the chosen nodes. */
const PK = `${K},peer=~"$peer",direction=~"$direction"`;

/**
 * The ratios per node, as the recording rules of generate/kpis.ts keep them: the panels and the
 * alerts read the same numbers.
 */
const recorded = (ratio: string) => `sip_node:session_${ratio}:ratio5m{${K}}`;

const peerAttempts = (selector: string) =>
  `sum by (peer, direction) (rate(sip_peer_session_attempts_total{${PK}${selector}}[${RATE}]))`;
/** A per-peer ratio, inline over the raw family so that it needs no rule. */
const peerRatio = (numerator: string, denominator: string) =>
  `${peerAttempts(numerator)}\n/\n(${peerAttempts(denominator)} > 0)`;
/** Outcomes the called user decided (RFC 6076 4.7, ITU-T E.425): the network did its part. */
const EFFECTIVE = ',outcome=~"answered|busy|declined|unavailable"';
const NOT_REDIRECTED = ',outcome!="redirected"';
const INEFFECTIVE = ',outcome=~"ineffective|timeout"';

const quantile = (q: number, histogram: string, selector: string, by = '') =>
  `histogram_quantile(${q}, sum by (le${by}) (rate(${histogram}_bucket{${selector}}[${RATE}])))`;

/** The p50 and p95 of a histogram over the selection, as a timeseries in seconds. */
const percentiles = (
  title: string,
  description: string,
  histogram: string,
  selector: string,
  threshold?: number,
): PanelSpec => ({
  title,
  description,
  type: 'timeseries',
  unit: 's',
  threshold,
  targets: [0.5, 0.95].map((q) => ({
    expr: quantile(q, histogram, selector),
    legendFormat: `p${q * 100}`,
  })),
});

const heatmap = (title: string, description: string, histogram: string, selector: string): HeatmapSpec => ({
  title,
  description: `${description} Each cell counts the observations in one bucket over one interval.`,
  type: 'heatmap',
  histogram,
  selector,
  yUnit: 's',
});

/** A histogram as a heatmap on the left and its p50 and p95 on the right. */
const delay = (
  title: string,
  description: string,
  histogram: string,
  selector: string,
  threshold?: number,
  thresholdText = '',
): Spec[] => [
  heatmap(title, description, histogram, selector),
  percentiles(
    `${title}: p50 and p95`,
    `${description} The 50th and 95th percentiles over the selected nodes.${thresholdText}`,
    histogram,
    selector,
    threshold,
  ),
];

function peerRow(): Spec {
  return {
    row: 'Per peer (with peers configured)',
    collapsed: true,
    panels: [
      {
        title: 'Session attempts by peer and outcome',
        description:
          'Session attempts per second by configured peer, direction (to_peer: sent to it; from_peer: received from it) and outcome. Empty without peers in the configuration (docs/peers.md).',
        type: 'timeseries',
        unit: 'ops',
        width: 24,
        targets: [
          {
            expr: `sum by (peer, direction, outcome) (rate(sip_peer_session_attempts_total{${PK}}[${RATE}]))`,
            legendFormat: '{{peer}} {{direction}} {{outcome}}',
          },
        ],
      },
      {
        title: 'SER, SEER and NER by peer',
        description:
          'Per peer and direction: SER, answered over attempts less redirected (RFC 6076 4.6); SEER, answered or busy, declined or unavailable over attempts less redirected (4.7); NER, the same over all attempts (ITU-T E.425).',
        type: 'timeseries',
        unit: 'percentunit',
        min: 0,
        max: 1,
        targets: [
          {
            expr: peerRatio(',outcome="answered"', NOT_REDIRECTED),
            legendFormat: '{{peer}} {{direction}} SER',
          },
          { expr: peerRatio(EFFECTIVE, NOT_REDIRECTED), legendFormat: '{{peer}} {{direction}} SEER' },
          { expr: peerRatio(EFFECTIVE, ''), legendFormat: '{{peer}} {{direction}} NER' },
        ],
      },
      {
        title: 'Ineffective session attempts (ISA) by peer',
        description: `Per peer and direction: attempts ended by 408, 500, 503, 504 or no final response over all attempts (RFC 6076 4.8). The red line is the per-node alert threshold, ${T.ineffectiveAttemptRatioWarning * 100}%.`,
        type: 'timeseries',
        unit: 'percentunit',
        min: 0,
        max: 1,
        threshold: T.ineffectiveAttemptRatioWarning,
        targets: [{ expr: peerRatio(INEFFECTIVE, ''), legendFormat: '{{peer}} {{direction}}' }],
      },
      heatmap(
        'Session request delay (SRD) of the selected peers, success',
        'INVITE to the first ringing or answer on the attempts of the selected peers and directions (RFC 6076 4.3).',
        'sip_peer_session_request_delay_seconds',
        `${PK},result="success"`,
      ),
      {
        title: 'Session request delay (SRD) by peer: p50 and p95',
        description:
          'Per peer and direction, the 50th and 95th percentiles of the delay from INVITE to the first ringing or answer (success), and the 95th to a failure with no provisional before it (RFC 6076 4.3).',
        type: 'timeseries',
        unit: 's',
        threshold: T.sessionSetupSlowSeconds,
        targets: [
          {
            expr: quantile(
              0.5,
              'sip_peer_session_request_delay_seconds',
              `${PK},result="success"`,
              ', peer, direction',
            ),
            legendFormat: '{{peer}} {{direction}} success p50',
          },
          {
            expr: quantile(
              0.95,
              'sip_peer_session_request_delay_seconds',
              `${PK},result="success"`,
              ', peer, direction',
            ),
            legendFormat: '{{peer}} {{direction}} success p95',
          },
          {
            expr: quantile(
              0.95,
              'sip_peer_session_request_delay_seconds',
              `${PK},result="failure"`,
              ', peer, direction',
            ),
            legendFormat: '{{peer}} {{direction}} failure p95',
          },
        ],
      },
    ],
  };
}

export function callKpis() {
  const nodeVariable = queryVariable(
    'node',
    'Node',
    'label_values(sip_session_attempts_total{job=~"$job",instance=~"$instance"}, node)',
  );
  // Empty without peers in the configuration; "All" then selects nothing to show, and the peer
  // row stays collapsed.
  const peerVariable = queryVariable(
    'peer',
    'Peer',
    'label_values(sip_peer_session_attempts_total{job=~"$job",instance=~"$instance"}, peer)',
  );
  const directionVariable = queryVariable(
    'direction',
    'Direction',
    'label_values(sip_peer_session_attempts_total{job=~"$job",instance=~"$instance"}, direction)',
  );
  const specs: Spec[] = [
    {
      title: 'Session attempts by outcome',
      description:
        'Session attempts (initial INVITEs, each counted once whatever its retransmissions, copies and challenges) per second, stacked by outcome.',
      type: 'timeseries',
      unit: 'ops',
      stacked: true,
      width: 24,
      targets: [
        {
          expr: `sum by (outcome) (rate(sip_session_attempts_total{${K}}[${RATE}]))`,
          legendFormat: '{{outcome}}',
        },
      ],
    },
    {
      title: 'Answer-seizure ratio (ASR)',
      description: `Answered attempts over all attempts, per node (ITU-T E.411), from the recording rule sip_node:session_asr:ratio5m. The alert fires below ${T.answerSeizureRatioWarning * 100}% (the red line).`,
      type: 'timeseries',
      unit: 'percentunit',
      min: 0,
      max: 1,
      threshold: T.answerSeizureRatioWarning,
      targets: [{ expr: recorded('asr'), legendFormat: '{{node}}' }],
    },
    {
      title: 'Ineffective session attempts (ISA)',
      description: `Attempts ended by 408, 500, 503, 504 or no final response over all attempts, per node (RFC 6076 4.8), from the recording rule sip_node:session_isa:ratio5m. The alert fires above ${T.ineffectiveAttemptRatioWarning * 100}% (the red line).`,
      type: 'timeseries',
      unit: 'percentunit',
      min: 0,
      max: 1,
      threshold: T.ineffectiveAttemptRatioWarning,
      targets: [{ expr: recorded('isa'), legendFormat: '{{node}}' }],
    },
    {
      title: 'SER, SEER and NER',
      description:
        'Per node, from the recording rules sip_node:session_{ser,seer,ner}:ratio5m: SER, answered over attempts less redirected (RFC 6076 4.6); SEER, answered or busy, declined or unavailable over attempts less redirected (4.7); NER, the same over all attempts (ITU-T E.425).',
      type: 'timeseries',
      unit: 'percentunit',
      min: 0,
      max: 1,
      width: 24,
      targets: [
        { expr: recorded('ser'), legendFormat: '{{node}} SER' },
        { expr: recorded('seer'), legendFormat: '{{node}} SEER' },
        { expr: recorded('ner'), legendFormat: '{{node}} NER' },
      ],
    },
    ...delay(
      'Session request delay (SRD), success',
      'INVITE to the first ringing or answer (RFC 6076 4.3).',
      'sip_session_request_delay_seconds',
      `${K},result="success"`,
      T.sessionSetupSlowSeconds,
      ` The alert fires when the p95 exceeds ${T.sessionSetupSlowSeconds} s (the red line).`,
    ),
    ...delay(
      'Session request delay (SRD), failure',
      'INVITE to a failure with no provisional before it (RFC 6076 4.3); apart from success, never summed with it.',
      'sip_session_request_delay_seconds',
      `${K},result="failure"`,
    ),
    ...delay('Post-dial delay (PDD)', 'INVITE to the first 180 or 183.', 'sip_post_dial_delay_seconds', K),
    ...delay(
      'Registration request delay (RRD)',
      'First REGISTER of an attempt to its 2xx, challenge included (RFC 6076 4.1).',
      'sip_registration_request_delay_seconds',
      K,
    ),
    ...delay(
      'Session duration',
      '200 OK to BYE (RFC 6076 4.5); sessions cut by the maximum duration or an eviction are not in it.',
      'sip_session_duration_seconds',
      K,
    ),
    {
      title: 'Active sessions',
      description:
        'Dialogs answered and not yet ended by a BYE, the maximum session duration or an eviction, per node.',
      type: 'timeseries',
      unit: 'short',
      targets: [{ expr: `sum by (node) (sip_sessions_active{${K}})`, legendFormat: '{{node}}' }],
    },
    {
      title: 'Registration attempts by outcome',
      description:
        'REGISTER attempts per second by outcome; a challenge round is one attempt, de-registrations are apart.',
      type: 'timeseries',
      unit: 'ops',
      stacked: true,
      targets: [
        {
          expr: `sum by (outcome) (rate(sip_registration_attempts_total{${K}}[${RATE}]))`,
          legendFormat: '{{outcome}}',
        },
      ],
    },
    {
      title: 'Top release causes',
      description:
        'Reason header causes on the finals that end attempts and the BYEs that end dialogs, over the time range (Q.850 34: no circuit available, 17: user busy, 16: normal clearing).',
      type: 'table',
      unit: 'short',
      width: 24,
      targets: [
        {
          expr: `topk(15, sum by (protocol, cause) (increase(sip_release_causes_total{${K}}[$__range])))`,
          instant: true,
          format: 'table',
        },
      ],
    },
    peerRow(),
  ];
  return dashboard(
    'sip-call-kpis',
    'Call KPIs',
    'Session and registration attempts, their outcomes, setup delays and durations (RFC 6076), per node and per configured peer, from sip-response-exporter.',
    [jobVariable, instanceVariable, nodeVariable, peerVariable, directionVariable],
    specs,
  );
}
