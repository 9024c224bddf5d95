import { type Logger, pino } from 'pino';

/** JSON lines on stdout. Nothing is logged per message: the hot path only bumps counters. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'sip-response-exporter' } });
}
