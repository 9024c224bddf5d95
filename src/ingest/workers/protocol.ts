import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { AddressRange } from '../../peers/address.js';
import type { PeerEntry } from '../../peers/matcher.js';
import type { SharedIngestState } from './shared-state.js';

/** The peers configuration as it crosses to a worker: the entries the matcher is built from. */
export interface PeersWire {
  readonly entries: readonly PeerEntry[];
  readonly selfAddresses: Readonly<Record<string, readonly AddressRange[]>>;
}

/** The keys a worker applies on SIGHUP, as the main thread does (LIVE_KEYS). */
export interface WorkerLiveConfig {
  readonly authKey: string;
  readonly nodeNames: Readonly<Record<string, string>>;
  readonly peers: PeersWire;
}

export interface WorkerInit {
  readonly index: number;
  readonly state: SharedIngestState;
  readonly socket: { host: string; port: number; ipv6: boolean; receiveBufferSize: number };
  readonly live: WorkerLiveConfig;
  readonly maxInflatedSize: number;
  readonly dedupeWindow: number;
  readonly dedupeEntries: number;
  readonly nodeLimit: number;
  readonly maxSeries: number;
}

export type Metrics = MetricObjectWithValues<MetricValue<string>>[];

/** A node and a sender address it came from, and how many messages since the last report. */
export type SenderReport = [node: number, sender: string, messages: number];

export type ToWorker =
  | { type: 'snapshot'; id: number }
  | { type: 'reload'; live: WorkerLiveConfig }
  | { type: 'stop' };

export type FromWorker =
  | { type: 'ready'; fd: number }
  | { type: 'error'; message: string; code: string | undefined }
  | { type: 'snapshot'; id: number; metrics: Metrics; senders: SenderReport[] }
  | { type: 'senders'; senders: SenderReport[] }
  | { type: 'stopped'; metrics: Metrics; senders: SenderReport[] };
