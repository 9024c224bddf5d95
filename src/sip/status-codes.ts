/**
 * The IANA "Response Codes" registry of the SIP Parameters group, with the canonical reason
 * phrase of each code. The `reason` label always comes from here, never from the wire: the
 * phrase on the wire is free text and would make the number of series unbounded.
 */
const REGISTERED: ReadonlyArray<readonly [number, string]> = [
  [100, 'Trying'],
  [180, 'Ringing'],
  [181, 'Call Is Being Forwarded'],
  [182, 'Queued'],
  [183, 'Session Progress'],
  [199, 'Early Dialog Terminated'],
  [200, 'OK'],
  [202, 'Accepted'],
  [204, 'No Notification'],
  [300, 'Multiple Choices'],
  [301, 'Moved Permanently'],
  [302, 'Moved Temporarily'],
  [305, 'Use Proxy'],
  [380, 'Alternative Service'],
  [400, 'Bad Request'],
  [401, 'Unauthorized'],
  [402, 'Payment Required'],
  [403, 'Forbidden'],
  [404, 'Not Found'],
  [405, 'Method Not Allowed'],
  [406, 'Not Acceptable'],
  [407, 'Proxy Authentication Required'],
  [408, 'Request Timeout'],
  [410, 'Gone'],
  [412, 'Conditional Request Failed'],
  [413, 'Request Entity Too Large'],
  [414, 'Request-URI Too Long'],
  [415, 'Unsupported Media Type'],
  [416, 'Unsupported URI Scheme'],
  [417, 'Unknown Resource-Priority'],
  [420, 'Bad Extension'],
  [421, 'Extension Required'],
  [422, 'Session Interval Too Small'],
  [423, 'Interval Too Brief'],
  [424, 'Bad Location Information'],
  [425, 'Bad Alert Message'],
  [428, 'Use Identity Header'],
  [429, 'Provide Referrer Identity'],
  [430, 'Flow Failed'],
  [433, 'Anonymity Disallowed'],
  [436, 'Bad Identity Info'],
  [437, 'Unsupported Credential'],
  [438, 'Invalid Identity Header'],
  [439, 'First Hop Lacks Outbound Support'],
  [440, 'Max-Breadth Exceeded'],
  [469, 'Bad Info Package'],
  [470, 'Consent Needed'],
  [480, 'Temporarily Unavailable'],
  [481, 'Call/Transaction Does Not Exist'],
  [482, 'Loop Detected'],
  [483, 'Too Many Hops'],
  [484, 'Address Incomplete'],
  [485, 'Ambiguous'],
  [486, 'Busy Here'],
  [487, 'Request Terminated'],
  [488, 'Not Acceptable Here'],
  [489, 'Bad Event'],
  [491, 'Request Pending'],
  [493, 'Undecipherable'],
  [494, 'Security Agreement Required'],
  [500, 'Server Internal Error'],
  [501, 'Not Implemented'],
  [502, 'Bad Gateway'],
  [503, 'Service Unavailable'],
  [504, 'Server Time-out'],
  [505, 'Version Not Supported'],
  [513, 'Message Too Large'],
  [555, 'Push Notification Service Not Supported'],
  [580, 'Precondition Failure'],
  [600, 'Busy Everywhere'],
  [603, 'Decline'],
  [604, 'Does Not Exist Anywhere'],
  [606, 'Not Acceptable'],
  [607, 'Unwanted'],
  [608, 'Rejected'],
];

export const MIN_STATUS_CODE = 100;
export const MAX_STATUS_CODE = 699;
export const UNASSIGNED_REASON = 'Unassigned';

const reasonByCode: string[] = [];
for (let code = MIN_STATUS_CODE; code <= MAX_STATUS_CODE; code++) reasonByCode[code] = UNASSIGNED_REASON;
for (const [code, reason] of REGISTERED) reasonByCode[code] = reason;

const CLASS_LABELS = ['', '1xx', '2xx', '3xx', '4xx', '5xx', '6xx'] as const;

export function isValidStatusCode(code: number): boolean {
  return Number.isInteger(code) && code >= MIN_STATUS_CODE && code <= MAX_STATUS_CODE;
}

/** The canonical phrase for a valid code; `Unassigned` for a valid code the registry lacks. */
export function reasonPhrase(code: number): string {
  if (!isValidStatusCode(code)) throw new RangeError(`not a SIP status code: ${code}`);
  return reasonByCode[code];
}

/** "1xx" .. "6xx". */
export function statusClass(code: number): string {
  if (!isValidStatusCode(code)) throw new RangeError(`not a SIP status code: ${code}`);
  return CLASS_LABELS[(code / 100) | 0];
}

export function registeredStatusCodes(): ReadonlyArray<readonly [number, string]> {
  return REGISTERED;
}
