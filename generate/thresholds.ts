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
  /** share of INVITE final responses (challenges left out) that are 2xx */
  answerSeizureRatioWarning: 0.3,
  /** ratios only count with at least this many final responses per second on the node */
  minFinalRate: 0.1,
  /** a node that answered in the last hour but not for this long is silent */
  noResponsesFor: '10m',
  /** parse errors, auth failures and kernel drops as a share of what arrives */
  ingestErrorRatioWarning: 0.01,
} as const;

/** Where the runbook anchors live; alerts link to `${RUNBOOK_URL}#<alert name in lower case>`. */
export const RUNBOOK_URL = 'docs/runbooks.md';
