/** Friendlier words for known error codes. The server's own message is always shown as well. */

const FRIENDLY: Array<[RegExp, string]> = [
  // Accounts (checked first: e.g. "token_expired" is not an upload permission problem).
  [/^invalid_credentials$/i, 'The e-mail address or the password is not right.'],
  [/^user_exists$/i, 'An account with this e-mail address already exists. Sign in instead.'],
  [/^invalid_password$/i, 'This password is not accepted.'],
  [/^invalid_email$/i, 'This e-mail address is not valid.'],
  [/not_confirmed|unconfirmed/i, 'This account is not confirmed yet: enter the code we sent you by e-mail.'],
  [/code_mismatch|invalid_code|expired_code/i, 'The confirmation code is not right or has expired.'],
  [/^unauthenticated$|^token_expired$|^invalid_token$/i, 'Your session has ended; please sign in again.'],
  [/^forbidden$/i, 'You are not allowed to do this.'],
  [/quota_exceeded/i, 'You have reached your storage quota. Delete some images to upload more.'],
  [/rate_limited/i, 'Too many requests right now; please try again shortly.'],
  // Files and processing.
  [/corrupt|decode|unidentified|invalid_image|not_an_image|cannot_identify|truncated/i,
    'The file could not be read as an image. It may be damaged, incomplete or not really an image.'],
  [/bomb|too_many_pixels|pixel|dimension/i, 'The image has too many pixels to be processed safely.'],
  [/content_type|unsupported|mime|format/i, 'This file type is not supported.'],
  [/empty/i, 'The file is empty.'],
  [/too_large|entitytoolarge|size|content_length/i, 'The file is larger than allowed.'],
  [/filename/i, 'The file name is not accepted.'],
  [/expired|accessdenied|signature|policy/i, 'The upload permission was refused or expired; please try again.'],
  [/timeout|timed_out/i, 'The operation took too long.'],
  [/network|unreachable/i, 'A network problem interrupted the request.'],
  [/not_found|nosuch|http_404/i, 'The image could not be found.'],
  [/rate|throttl|http_429/i, 'Too many requests right now; please try again shortly.'],
  [/aborted|cancel/i, 'The upload was cancelled.'],
  [/http_5\d\d|internal|unavailable/i, 'The server had a problem.'],
];

function seconds(n: number): string {
  return n === 1 ? '1 second' : `${n} seconds`;
}

export function friendlyErrorText(code: string | undefined | null, opts: { retryAfter?: number | null } = {}): string | null {
  if (!code) return null;
  if (/rate_limited|throttl|http_429/i.test(code) && opts.retryAfter != null && opts.retryAfter > 0) {
    return `Too many requests right now; please try again in ${seconds(Math.ceil(opts.retryAfter))}.`;
  }
  for (const [re, text] of FRIENDLY) if (re.test(code)) return text;
  return null;
}

/** "Friendly sentence. Server message (code)" without saying the same thing twice. */
export function describeError(error: { code?: string | null; message?: string | null; retryAfter?: number | null }): {
  summary: string | null;
  detail: string;
} {
  const message = (error.message ?? '').trim() || 'No reason was given.';
  const summary = friendlyErrorText(error.code, { retryAfter: error.retryAfter ?? null });
  return { summary: summary && summary !== message ? summary : null, detail: message };
}
