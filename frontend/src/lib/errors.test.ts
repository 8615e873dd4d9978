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
