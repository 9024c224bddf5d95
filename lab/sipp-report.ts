import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Reads sipp's final screen: the message table (how many of each message the scenario sent or
 * received) and the successful and failed call counters.
 */
export interface SippReport {
  successful: number;
  failed: number;
  /** responses received, by "METHOD CODE" (the method of the request they answer) */
  responsesReceived: Map<string, number>;
}

const REQUEST_LINE = /^\s*([A-Z]+) -{3,}>\s+(\d+)/;
const RESPONSE_LINE = /^\s*(\d{3}) <-{3,}\s+(?:[A-Z]-RTD\d+\s+)?(\d+)/;

export function parseSippScreen(screen: string): SippReport {
  // The last screen printed is the final one.
  const start = screen.lastIndexOf('Messages  Retrans');
  if (start < 0) throw new Error('no sipp message table in the output');
  const table = screen.slice(start).split('\n');
  const responsesReceived = new Map<string, number>();
  let method = '';
  for (const line of table.slice(1)) {
    if (line.startsWith('---')) break;
    const request = REQUEST_LINE.exec(line);
    if (request !== null) {
      method = request[1];
      continue;
    }
    const response = RESPONSE_LINE.exec(line);
    if (response !== null && Number(response[2]) > 0) {
      const key = `${method} ${response[1]}`;
      responsesReceived.set(key, (responsesReceived.get(key) ?? 0) + Number(response[2]));
    }
  }
  const counter = (name: string) => {
    const match = new RegExp(`${name}\\s+\\|\\s+\\d+\\s+\\|\\s+(\\d+)`).exec(
      screen.slice(screen.lastIndexOf('Statistics Screen')),
    );
    return match ? Number(match[1]) : Number.NaN;
  };
  return { successful: counter('Successful call'), failed: counter('Failed call'), responsesReceived };
}

/**
 * Reads the response times sipp writes with -trace_rtt (one row per measured call:
 * "date_ms;response_time_ms;rtd_no") and returns those of response time `rtd`, in ms, in order.
 */
export function parseSippRtt(csv: string, rtd = 1): number[] {
  const lines = csv.split('\n').filter((l) => l.trim() !== '');
  if (lines[0]?.trim() !== 'Date_ms;response_time_ms;rtd_no') throw new Error('not a sipp rtt file');
  const times: number[] = [];
  for (const line of lines.slice(1)) {
    const [, time, no] = line.split(';');
    if (Number(no) === rtd) times.push(Number(time));
  }
  return times;
}

/** The -trace_rtt file of the sipp run of scenario `name` in `dir` (`<name>_<pid>_rtt.csv`). */
export function sippRttFile(dir: string, name: string): string {
  const files = readdirSync(dir).filter((f) => new RegExp(`^${name}_\\d+_rtt\\.csv$`).test(f));
  if (files.length !== 1)
    throw new Error(`expected one rtt file of ${name} in ${dir}, found ${files.length}`);
  return join(dir, files[0]);
}
