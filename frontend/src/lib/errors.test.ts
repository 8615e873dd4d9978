import { describe, expect, it } from 'vitest';
import { describeError, friendlyErrorText } from './errors';
import { hrefFor, parseHash } from './route';

describe('error wording', () => {
  it('maps known codes to friendlier text but always keeps the server message', () => {
    expect(friendlyErrorText('corrupt_image')).toMatch(/could not be read as an image/);
    expect(friendlyErrorText('decompression_bomb')).toMatch(/too many pixels/);
    expect(friendlyErrorText('EntityTooLarge')).toMatch(/larger than allowed/);
    expect(friendlyErrorText('something_new')).toBeNull();
    expect(describeError({ code: 'corrupt_image', message: 'cannot identify image file' })).toEqual({
      summary: expect.stringMatching(/could not be read/),
      detail: 'cannot identify image file',
    });
    expect(describeError({ code: 'mystery', message: '' })).toEqual({ summary: null, detail: 'No reason was given.' });
  });
});

describe('hash routes', () => {
  it('parses and builds routes', () => {
    expect(parseHash('')).toEqual({ name: 'upload' });
    expect(parseHash('#/')).toEqual({ name: 'upload' });
    expect(parseHash('#/gallery')).toEqual({ name: 'gallery' });
    expect(parseHash('#/image/abc123')).toEqual({ name: 'image', imageId: 'abc123' });
    expect(parseHash('#/image/%E0%A4%A')).toEqual({ name: 'upload' });
    expect(hrefFor({ name: 'image', imageId: 'a b' })).toBe('#/image/a%20b');
    expect(parseHash(hrefFor({ name: 'image', imageId: 'a b' }))).toEqual({ name: 'image', imageId: 'a b' });
  });
});

describe('account error wording', () => {
  it('has friendly text for the account codes', () => {
    expect(friendlyErrorText('invalid_credentials')).toMatch(/password is not right/);
    expect(friendlyErrorText('user_exists')).toMatch(/already exists/);
    expect(friendlyErrorText('token_expired')).toMatch(/session has ended/);
    expect(friendlyErrorText('quota_exceeded')).toMatch(/storage quota/);
    expect(friendlyErrorText('rate_limited')).toMatch(/try again shortly/);
    expect(friendlyErrorText('rate_limited', { retryAfter: 1 })).toMatch(/in 1 second\./);
    expect(describeError({ code: 'rate_limited', message: 'Slow down', retryAfter: 9 }).summary).toMatch(/in 9 seconds/);
    // The upload-permission wording is still used for S3's own codes.
    expect(friendlyErrorText('ExpiredToken')).toMatch(/upload permission/);
  });
});

describe('account routes', () => {
  it('parses #/mine and #/signin with a safe "next"', () => {
    expect(parseHash('#/mine')).toEqual({ name: 'mine' });
    expect(parseHash('#/signin')).toEqual({ name: 'signin', mode: 'signin', next: null });
    expect(parseHash('#/signup')).toEqual({ name: 'signin', mode: 'signup', next: null });
    expect(parseHash('#/signin?next=%23%2Fmine')).toEqual({ name: 'signin', mode: 'signin', next: '#/mine' });
    expect(parseHash('#/signin?next=javascript%3Aalert(1)')).toEqual({ name: 'signin', mode: 'signin', next: null });
    expect(parseHash('#/signin?next=%23%2Fsignin')).toEqual({ name: 'signin', mode: 'signin', next: null });
    expect(hrefFor({ name: 'signin', mode: 'signin', next: '#/mine' })).toBe('#/signin?next=%23%2Fmine');
    expect(hrefFor({ name: 'mine' })).toBe('#/mine');
  });
});
