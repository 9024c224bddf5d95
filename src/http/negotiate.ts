/** OpenMetrics versions this exporter writes, as scrapers ask for them (Prometheus asks for both). */
const OPENMETRICS_VERSIONS = new Set(['1.0.0', '0.0.1']);
const Q_VALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

/**
 * Whether a scrape's Accept header prefers OpenMetrics to the text format (0.0.4): an
 * `application/openmetrics-text` range (version 1.0.0, 0.0.1 or none) must carry a higher
 * q-value than the best range the text format answers (`text/plain` of any version, `text/*`,
 * `*∕*`). A tie, no header, or anything unreadable keeps the text format, the default. Ranges
 * this exporter cannot serve at all (protobuf) take no part, so Prometheus's
 * `protobuf;q=0.9,openmetrics;q=0.5,text/plain;q=0.4` gets OpenMetrics. Never throws.
 */
export function prefersOpenMetrics(accept: string | undefined): boolean {
  if (accept === undefined || accept === '') return false;
  let openMetrics = 0;
  let text = 0;
  for (const range of accept.split(',')) {
    const params = range.split(';');
    const type = params[0].trim().toLowerCase();
    const om = type === 'application/openmetrics-text';
    if (!om && type !== 'text/plain' && type !== 'text/*' && type !== '*/*') continue;
    let q = 1;
    let version: string | undefined;
    for (let i = 1; i < params.length; i++) {
      const eq = params[i].indexOf('=');
      if (eq < 0) continue;
      const key = params[i].slice(0, eq).trim().toLowerCase();
      let value = params[i].slice(eq + 1).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      if (key === 'q') q = Q_VALUE.test(value) ? Number(value) : 0;
      else if (key === 'version') version = value;
    }
    if (!om) text = Math.max(text, q);
    else if (version === undefined || OPENMETRICS_VERSIONS.has(version))
      openMetrics = Math.max(openMetrics, q);
  }
  return openMetrics > 0 && openMetrics > text;
}
