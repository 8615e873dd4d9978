/** Client-side checks that mirror the upload-service's (type, size, empty file, filename). */

export const ACCEPTED_TYPES = [
  'image/jpeg',
  'image/png',
  'image/gif',
  'image/webp',
  'image/avif',
  'image/heic',
  'image/heif',
  'image/tiff',
  'image/bmp',
] as const;

export type AcceptedType = (typeof ACCEPTED_TYPES)[number];

export const DEFAULT_MAX_BYTES = 26_214_400; // 25 MiB
export const MAX_FILENAME_LENGTH = 255;

const EXTENSION_TYPES: Record<string, AcceptedType> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  jpe: 'image/jpeg',
  jfif: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
  avif: 'image/avif',
  heic: 'image/heic',
  heif: 'image/heif',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  bmp: 'image/bmp',
};

/** Some browsers/OSes report non-canonical names for the same formats. */
const TYPE_ALIASES: Record<string, AcceptedType> = {
  'image/jpg': 'image/jpeg',
  'image/pjpeg': 'image/jpeg',
  'image/x-png': 'image/png',
  'image/x-ms-bmp': 'image/bmp',
  'image/x-bmp': 'image/bmp',
  'image/heic-sequence': 'image/heic',
  'image/heif-sequence': 'image/heif',
};

/** For the file input's `accept` attribute. */
export const ACCEPT_ATTRIBUTE = [
  ...ACCEPTED_TYPES,
  ...Object.keys(EXTENSION_TYPES).map((e) => `.${e}`),
].join(',');

export interface FileLike {
  name: string;
  type: string;
  size: number;
}

export type ValidationResult =
  | { ok: true; contentType: AcceptedType }
  | { ok: false; code: string; message: string };

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '?';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}

export function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 && dot < name.length - 1 ? name.slice(dot + 1).toLowerCase() : '';
}

/** The content type to declare, from the browser's `type` or else the file extension. */
export function resolveContentType(file: FileLike): AcceptedType | null {
  const raw = file.type.trim().toLowerCase().split(';')[0] ?? '';
  if (raw) {
    if ((ACCEPTED_TYPES as readonly string[]).includes(raw)) return raw as AcceptedType;
    return TYPE_ALIASES[raw] ?? null;
  }
  return EXTENSION_TYPES[extensionOf(file.name)] ?? null;
}

export function validateFile(file: FileLike, maxBytes: number = DEFAULT_MAX_BYTES): ValidationResult {
  const name = file.name.trim();
  if (!name) {
    return { ok: false, code: 'invalid_filename', message: 'The file has no name.' };
  }
  if (name.length > MAX_FILENAME_LENGTH) {
    return {
      ok: false,
      code: 'invalid_filename',
      message: `The file name is too long (${name.length} characters; at most ${MAX_FILENAME_LENGTH}).`,
    };
  }
  const contentType = resolveContentType(file);
  if (!contentType) {
    const what = file.type
      ? `type ${file.type}`
      : extensionOf(file.name)
        ? `extension .${extensionOf(file.name)}`
        : 'no type and no file extension';
    return {
      ok: false,
      code: 'unsupported_content_type',
      message: `This file is not a supported image (${what}). Supported: JPEG, PNG, GIF, WebP, AVIF, HEIC/HEIF, TIFF, BMP.`,
    };
  }
  if (file.size <= 0) {
    return { ok: false, code: 'empty_file', message: 'The file is empty (0 bytes).' };
  }
  if (file.size > maxBytes) {
    return {
      ok: false,
      code: 'file_too_large',
      message: `The file is too large (${formatBytes(file.size)}); the maximum is ${formatBytes(maxBytes)}.`,
    };
  }
  return { ok: true, contentType };
}
