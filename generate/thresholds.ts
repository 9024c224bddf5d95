/**
 * Every alert threshold in one place. The rules (deploy/prometheus) and the dashboards
 * (dashboards/) are generated from here by `npm run generate`; docs/runbooks.md explains each
 * value and a test checks that it states the same numbers.
 */
export const THRESHOLDS = {
  /** 503s per second over 5m must exceed this many times their rate over the last hour... */
  serviceUnavailableSpikeFactor: 3,
  /** ...and this absolute rate (per second; 0.2/s is 12 a minute), so a handful never pages */
  serviceUnavailableSpikeMinRate: 0.2,
  /** 5xx share of final responses */
  serverErrorRatioWarning: 0.05,
  serverErrorRatioCritical: 0.2,
  /** 4xx share of final responses, digest challenges (401, 407) and 487 after CANCEL left out */
  clientErrorRatioWarning: 0.3,
  /** 6xx share of final responses */
  globalFailureRatioWarning: 0.05,
  /** share of session attempts answered (ASR); without call KPIs, of INVITE finals that are 2xx */
  answerSeizureRatioWarning: 0.3,
  /** ratios only count with at least this many final responses per second on the node */
  minFinalRate: 0.1,
  /** a node (or a whole exporter) that answered within the lookback but not for this long is silent */
  noResponsesFor: '10m',
  /** how far back a node must have had traffic for its silence to alert; the alert ends after this */
  noResponsesLookback: '1h',
  /** a scrape target that fails this long is down (the alert's `for`) */
  exporterDownFor: '5m',
  /** a job that had a scrape target within this long but has none now is missing */
  exporterMissingLookback: '1h',
  /** parse errors, auth failures and kernel drops as a share of what arrives */
  ingestErrorRatioWarning: 0.01,
  /** call KPI alerts need at least this many session attempts per second on the node */
  minAttemptRate: 0.1,
  /** ISA: share of session attempts ended by 408, 500, 503, 504 or a timeout */
  ineffectiveAttemptRatioWarning: 0.1,
  /** 95th percentile of the successful session request delay, in seconds */
  sessionSetupSlowSeconds: 3,
  /** 5xx share of the INVITE final responses one peer sends (OPTIONS answers left out) */
  peerServerErrorRatioWarning: 0.1,
  /** that ratio counts only with at least this many INVITE finals per second from the peer */
  peerMinInviteFinalRate: 0.05,
  /** share of a peer's OPTIONS answers that are 408 or 503, above which it is unreachable */
  peerOptionsFailureRatio: 0.5,
} as const;

/**
 * What differs between installations rather than between alert levels. Change a value here and
 * run `npm run generate`; docs/runbooks.md describes each.
 */
export const SETTINGS = {
  /**
   * The Prometheus job (a regular expression, used as `job=~"..."`) that scrapes the exporters.
   * The default is the job name of deploy/compose and the Service name the ServiceMonitor uses.
   */
  exporterJob: 'sip-response-exporter',
  /**
   * The labels of `up` that name one expected scrape target for SIPExporterMissing. The default,
   * the job alone, fires only when every target of the job is gone, so a Kubernetes rollout (which
   * changes instance) stays quiet; with static targets add 'instance' to miss each one.
   */
  exporterMissingBy: ['job'] as readonly string[],
  /**
   * The page every alert links to; the anchor is the alert name in lower case. An absolute URL,
   * so the link works from Alertmanager, its receivers and Grafana alike.
   */
  runbookUrl: 'https://github.com/sip-response-exporter/sip-response-exporter/blob/main/docs/runbooks.md',
};
