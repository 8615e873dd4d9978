import { describe, expect, it } from 'vitest';
import { ACCEPT_ATTRIBUTE, DEFAULT_MAX_BYTES, formatBytes, resolveContentType, validateFile } from './validate';

describe('validateFile', () => {
  it('accepts every supported type', () => {
    for (const type of ['image/jpeg', 'image/png', 'image/gif', 'image/webp', 'image/avif', 'image/heic', 'image/heif', 'image/tiff', 'image/bmp']) {
      expect(validateFile({ name: 'x', type, size: 10 })).toEqual({ ok: true, contentType: type });
    }
  });

  it('rejects other types with a clear message', () => {
    const r = validateFile({ name: 'notes.pdf', type: 'application/pdf', size: 10 });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.code).toBe('unsupported_content_type');
      expect(r.message).toContain('application/pdf');
      expect(r.message).toContain('JPEG');
    }
    expect(validateFile({ name: 'vector.svg', type: 'image/svg+xml', size: 10 }).ok).toBe(false);
  });

  it('infers the type from the extension when the browser gives none', () => {
    expect(validateFile({ name: 'IMG_0001.HEIC', type: '', size: 10 })).toEqual({ ok: true, contentType: 'image/heic' });
    expect(validateFile({ name: 'scan.tif', type: '', size: 10 })).toEqual({ ok: true, contentType: 'image/tiff' });
    expect(validateFile({ name: 'photo.jpg', type: '', size: 10 })).toEqual({ ok: true, contentType: 'image/jpeg' });
    const r = validateFile({ name: 'README', type: '', size: 10 });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(/no type and no file extension/);
    const r2 = validateFile({ name: 'archive.zip', type: '', size: 10 });
    if (!r2.ok) expect(r2.message).toMatch(/\.zip/);
    else throw new Error('zip accepted');
  });

  it('normalises aliases', () => {
    expect(resolveContentType({ name: 'a.jpg', type: 'image/jpg', size: 1 })).toBe('image/jpeg');
    expect(resolveContentType({ name: 'a.png', type: 'IMAGE/PNG', size: 1 })).toBe('image/png');
  });

  it('rejects empty files', () => {
    const r = validateFile({ name: 'empty.png', type: 'image/png', size: 0 });
    expect(r).toMatchObject({ ok: false, code: 'empty_file' });
  });

  it('rejects files above the maximum, using the server maximum when given', () => {
    expect(validateFile({ name: 'a.png', type: 'image/png', size: DEFAULT_MAX_BYTES }).ok).toBe(true);
    const r = validateFile({ name: 'a.png', type: 'image/png', size: DEFAULT_MAX_BYTES + 1 });
    expect(r).toMatchObject({ ok: false, code: 'file_too_large' });
    if (!r.ok) expect(r.message).toContain('25.0 MB');
    expect(validateFile({ name: 'a.png', type: 'image/png', size: 2000 }, 1000)).toMatchObject({ ok: false, code: 'file_too_large' });
  });

  it('rejects empty and overlong names', () => {
    expect(validateFile({ name: '  ', type: 'image/png', size: 1 })).toMatchObject({ ok: false, code: 'invalid_filename' });
    expect(validateFile({ name: `${'a'.repeat(300)}.png`, type: 'image/png', size: 1 })).toMatchObject({ ok: false, code: 'invalid_filename' });
  });

  it('has an accept attribute that lists types and extensions', () => {
    expect(ACCEPT_ATTRIBUTE).toContain('image/webp');
    expect(ACCEPT_ATTRIBUTE).toContain('.heic');
  });

  it('formats byte sizes', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(2048)).toBe('2.0 KB');
    expect(formatBytes(26_214_400)).toBe('25.0 MB');
  });
});
