import { describe, expect, it } from 'vitest';
import {
  METHOD_LABELS,
  METHOD_OTHER,
  METHOD_UNKNOWN,
  methodIndex,
  methodIndexOfString,
} from '../../src/sip/methods.js';

function indexOf(text: string): number {
  const buf = Buffer.from(`..${text}..`, 'latin1');
  return methodIndex(buf, 2, 2 + text.length);
}

describe('method labels', () => {
  it('maps every registered method to itself', () => {
    for (const method of [
      'ACK',
      'BYE',
      'CANCEL',
      'INFO',
      'INVITE',
      'MESSAGE',
      'NOTIFY',
      'OPTIONS',
      'PRACK',
      'PUBLISH',
      'REFER',
      'REGISTER',
      'SUBSCRIBE',
      'UPDATE',
    ]) {
      expect(METHOD_LABELS[indexOf(method)]).toBe(method);
      expect(METHOD_LABELS[methodIndexOfString(method)]).toBe(method);
    }
  });

  it('maps unregistered tokens, and methods in the wrong case, to OTHER', () => {
    for (const token of ['FOO', 'invite', 'INVITES', 'X', 'NOTIFYX', 'PUBLISJ']) {
      expect(indexOf(token)).toBe(METHOD_OTHER);
      expect(METHOD_LABELS[indexOf(token)]).toBe('OTHER');
    }
    expect(methodIndexOfString('SERVICE')).toBe(METHOD_OTHER);
  });

  it('gives the empty label when there is no method', () => {
    expect(indexOf('')).toBe(METHOD_UNKNOWN);
    expect(METHOD_LABELS[METHOD_UNKNOWN]).toBe('');
    expect(methodIndexOfString(undefined)).toBe(METHOD_UNKNOWN);
    expect(methodIndexOfString('')).toBe(METHOD_UNKNOWN);
  });
});
