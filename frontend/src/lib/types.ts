/** Shapes of the SnapQueue REST (issue 3) and WebSocket (issue 5) contracts, with accounts. */

export type ImageStatus = 'PENDING_UPLOAD' | 'PROCESSING' | 'COMPLETED' | 'FAILED';

export const VARIANT_NAMES = ['thumbnail', 'resized', 'grayscale'] as const;
export type VariantName = (typeof VARIANT_NAMES)[number];

export interface Variant {
  url: string;
  width: number;
  height: number;
  contentType: string;
  bytes: number;
}

export type Variants = Partial<Record<VariantName, Variant>>;

export interface ExifInfo {
  make?: string;
  model?: string;
  dateTaken?: string;
  exposureTime?: string | number;
  fNumber?: string | number;
  iso?: string | number;
  focalLength?: string | number;
  orientation?: number;
  gpsPresent?: boolean;
}

/** Written by the processing worker. Every key is optional. */
export interface ImageMetadata {
  width?: number;
  height?: number;
  format?: string;
  mode?: string;
  frames?: number;
  bytes?: number;
  sha256?: string;
  dominantColor?: string;
  blurhash?: string;
  exif?: ExifInfo | null;
  [key: string]: unknown;
}

export interface ServerError {
  code: string;
  message: string;
  /** Seconds to wait (from `Retry-After`), for `rate_limited`. */
  retryAfter?: number;
}

export type Visibility = 'private' | 'public';

/** `GET /me`. `groups` includes "admins" for administrators. */
export interface MeRecord {
  userId: string;
  email: string;
  groups: string[];
}

export interface ImageRecord {
  imageId: string;
  status: ImageStatus;
  originalFilename?: string;
  contentType?: string;
  uploadTimestamp?: string;
  updatedAt?: string;
  variants?: Variants | null;
  metadata?: ImageMetadata | null;
  error?: ServerError | null;
  ownerId?: string;
  visibility?: Visibility;
}

export interface StatusRecord {
  imageId: string;
  status: ImageStatus;
  updatedAt?: string;
}

export interface UploadRequestBody {
  filename: string;
  contentType: string;
  size: number;
  /** Default (when absent) is private. */
  visibility?: Visibility;
}

export interface UploadTicket {
  imageId: string;
  upload: { url: string; fields: Record<string, string> };
  expiresAt: string;
  maxBytes: number;
}

export interface ImagePage {
  items: ImageRecord[];
  nextCursor: string | null;
}

export const TERMINAL_STATUSES: ReadonlySet<ImageStatus> = new Set(['COMPLETED', 'FAILED']);

export function isTerminal(status: ImageStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

/** Order of the server-side state machine; status never goes backwards. */
export const STATUS_RANK: Record<ImageStatus, number> = {
  PENDING_UPLOAD: 0,
  PROCESSING: 1,
  COMPLETED: 2,
  FAILED: 2,
};

export function isImageStatus(value: unknown): value is ImageStatus {
  return typeof value === 'string' && value in STATUS_RANK;
}
