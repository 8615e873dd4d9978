/** Friendlier words for known error codes. The server's own message is always shown as well. */

const FRIENDLY: Array<[RegExp, string]> = [
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

export function friendlyErrorText(code: string | undefined | null): string | null {
  if (!code) return null;
  for (const [re, text] of FRIENDLY) if (re.test(code)) return text;
  return null;
}

/** "Friendly sentence. Server message (code)" without saying the same thing twice. */
export function describeError(error: { code?: string | null; message?: string | null }): {
  summary: string | null;
  detail: string;
} {
  const message = (error.message ?? '').trim() || 'No reason was given.';
  const summary = friendlyErrorText(error.code);
  return { summary: summary && summary !== message ? summary : null, detail: message };
}
