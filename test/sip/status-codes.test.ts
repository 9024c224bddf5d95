import { describe, expect, it } from 'vitest';
import {
  isValidStatusCode,
  reasonPhrase,
  registeredStatusCodes,
  statusClass,
  UNASSIGNED_REASON,
} from '../../src/sip/status-codes.js';

describe('status code registry', () => {
  it('has the canonical phrase for codes across every class', () => {
    expect(reasonPhrase(100)).toBe('Trying');
    expect(reasonPhrase(199)).toBe('Early Dialog Terminated');
    expect(reasonPhrase(204)).toBe('No Notification');
    expect(reasonPhrase(380)).toBe('Alternative Service');
    expect(reasonPhrase(401)).toBe('Unauthorized');
    expect(reasonPhrase(407)).toBe('Proxy Authentication Required');
    expect(reasonPhrase(417)).toBe('Unknown Resource-Priority');
    expect(reasonPhrase(481)).toBe('Call/Transaction Does Not Exist');
    expect(reasonPhrase(487)).toBe('Request Terminated');
    expect(reasonPhrase(494)).toBe('Security Agreement Required');
    expect(reasonPhrase(503)).toBe('Service Unavailable');
    expect(reasonPhrase(555)).toBe('Push Notification Service Not Supported');
    expect(reasonPhrase(580)).toBe('Precondition Failure');
    expect(reasonPhrase(603)).toBe('Decline');
    expect(reasonPhrase(607)).toBe('Unwanted');
    expect(reasonPhrase(608)).toBe('Rejected');
  });

  it('includes every code the registry added after RFC 3261', () => {
    const codes = new Set(registeredStatusCodes().map(([code]) => code));
    for (const code of [199, 204, 380, 417, 469, 470, 489, 494, 555, 580, 607, 608])
      expect(codes).toContain(code);
    for (let code = 422; code <= 440; code++) {
      if ([426, 427, 431, 432, 434, 435].includes(code)) continue;
      expect(codes, `code ${code}`).toContain(code);
    }
    expect(codes.size).toBe(75);
  });

  it('gives valid codes that the registry lacks the reason Unassigned', () => {
    expect(reasonPhrase(299)).toBe(UNASSIGNED_REASON);
    expect(reasonPhrase(426)).toBe(UNASSIGNED_REASON);
    expect(reasonPhrase(699)).toBe(UNASSIGNED_REASON);
  });

  it('derives the class from the first digit', () => {
    expect(statusClass(100)).toBe('1xx');
    expect(statusClass(299)).toBe('2xx');
    expect(statusClass(302)).toBe('3xx');
    expect(statusClass(486)).toBe('4xx');
    expect(statusClass(503)).toBe('5xx');
    expect(statusClass(699)).toBe('6xx');
  });

  it('rejects anything outside 100-699', () => {
    for (const code of [0, 99, 700, 999, 150.5, -1, Number.NaN]) {
      expect(isValidStatusCode(code)).toBe(false);
      expect(() => reasonPhrase(code)).toThrow(RangeError);
      expect(() => statusClass(code)).toThrow(RangeError);
    }
  });
});
