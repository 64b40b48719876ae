/**
 * The delivery log's "last answer" (web/src/pages/platform/delivery-answer.ts): on the Vietnamese
 * console, the hub's reasons for a failed delivery (src/events/webhook-dispatcher.ts, in English)
 * read in Vietnamese; a reason the console does not know is shown as the hub wrote it, marked as
 * English for screen readers. Found by the web review: "connection refused" and "no webhook URL
 * is set" were left in English on the Vietnamese page.
 */
import { describe, expect, it } from 'vitest';
import { dictionary } from '../../web/src/i18n/messages.ts';
import { deliveryAnswer } from '../../web/src/pages/platform/delivery-answer.ts';
import { describeFailure } from '../../src/events/webhook-dispatcher.ts';

const vi = dictionary.vi;
const en = dictionary.en;
const failed = (last_error: string) => ({ last_status_code: null, last_error });

describe('deliveryAnswer', () => {
  it('shows the receiver status when it answered, a dash before the first attempt', () => {
    expect(deliveryAnswer({ last_status_code: 503, last_error: 'HTTP 503' }, vi)).toEqual({ text: 'HTTP 503' });
    expect(deliveryAnswer({ last_status_code: null, last_error: null }, vi)).toEqual({ text: '–' });
  });

  it.each([
    ['connection refused', 'Máy nhận từ chối kết nối'],
    ['connection reset', 'Kết nối bị ngắt'],
    ['connection timed out', 'Hết thời gian chờ kết nối'],
    ['host unreachable', 'Không tới được máy nhận'],
    ['the host name does not resolve', 'Không phân giải được tên miền'],
    ['timeout: no answer within 10000 ms', 'Không có phản hồi trong 10.000 ms'],
    ['no webhook URL is set', 'Chưa đặt địa chỉ webhook'],
    ['the provider is disabled', 'Nền tảng đã bị vô hiệu hoá'],
    ['the webhook URL is invalid', 'Địa chỉ webhook không hợp lệ'],
    ['the webhook endpoint is disabled: it answered 410 Gone; set the webhook URL again to enable it', 'Địa chỉ webhook đã bị tắt'],
  ])('reads the hub reason %j in Vietnamese', (reason, expected) => {
    const answer = deliveryAnswer(failed(reason), vi);
    expect(answer.text).toContain(expected);
    expect(answer.lang).toBeUndefined();
  });

  it('names the error class of a TLS or other network error in the page language, keeping its code', () => {
    expect(deliveryAnswer(failed('TLS error (CERT_HAS_EXPIRED)'), vi).text).toBe('Lỗi TLS (CERT_HAS_EXPIRED)');
    expect(deliveryAnswer(failed('network error (EPIPE)'), vi).text).toBe('Lỗi mạng (EPIPE)');
    expect(deliveryAnswer(failed('connection refused'), en).text).toBe('Connection refused');
  });

  it('shows a reason it does not know as the hub wrote it, marked as English', () => {
    expect(deliveryAnswer(failed('destination refused: the host is private (10.0.0.1)'), vi)).toEqual({
      text: 'destination refused: the host is private (10.0.0.1)',
      lang: 'en',
    });
    // On the English console it is simply English.
    expect(deliveryAnswer(failed('something new'), en)).toEqual({ text: 'something new' });
  });

  it("keeps up with the dispatcher's words: every network failure it describes reads in Vietnamese", () => {
    const failures: unknown[] = ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'CERT_HAS_EXPIRED', 'EPIPE']
      .map((code) => Object.assign(new Error('x'), { code }));
    failures.push(new Error('no code'));
    for (const failure of failures) {
      const answer = deliveryAnswer(failed(describeFailure(failure, 10_000)), vi);
      expect(answer.lang, describeFailure(failure, 10_000)).toBeUndefined();
    }
  });
});
