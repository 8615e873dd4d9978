import type { ReactNode } from 'react';
import type { ImageMetadata } from '../lib/types';
import { formatBytes } from '../lib/validate';

function text(v: unknown): string | null {
  if (v === null || v === undefined || v === '') return null;
  if (typeof v === 'string' || typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  return null;
}

function formatDate(v: unknown): string | null {
  const s = text(v);
  if (!s) return null;
  // EXIF style "2021:07:04 10:11:12" -> ISO-ish so Date can read it.
  const iso = /^\d{4}:\d{2}:\d{2}[ T]\d{2}:\d{2}/.test(s) ? s.replace(/^(\d{4}):(\d{2}):(\d{2})[ T]/, '$1-$2-$3T') : s;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? s : `${d.toLocaleString()} (${s})`;
}

export function ColorSwatch({ color }: { color: string }) {
  const valid = /^#[0-9a-f]{3,8}$/i.test(color);
  return (
    <span className="swatch-wrap">
      {valid && <span className="swatch" style={{ backgroundColor: color }} aria-hidden="true" />}
      <code>{color}</code>
    </span>
  );
}

/** `compact`: dimensions, camera, date taken, dominant colour. Otherwise every known key. */
export function MetadataList({ metadata, compact = false }: { metadata: ImageMetadata | null | undefined; compact?: boolean }) {
  if (!metadata) return null;
  const exif = metadata.exif && typeof metadata.exif === 'object' ? metadata.exif : {};
  const rows: Array<[string, ReactNode]> = [];
  const add = (label: string, value: ReactNode | null) => {
    if (value !== null && value !== undefined && value !== '') rows.push([label, value]);
  };
  if (typeof metadata.width === 'number' && typeof metadata.height === 'number') {
    add('Dimensions', `${metadata.width} × ${metadata.height} px`);
  }
  const camera = [text(exif.make), text(exif.model)].filter(Boolean).join(' ');
  add('Camera', camera || null);
  add('Date taken', formatDate(exif.dateTaken));
  if (typeof metadata.dominantColor === 'string' && metadata.dominantColor) {
    add('Dominant colour', <ColorSwatch color={metadata.dominantColor} />);
  }
  if (!compact) {
    add('Format', text(metadata.format));
    add('Colour mode', text(metadata.mode));
    add('Frames', text(metadata.frames));
    add('File size', typeof metadata.bytes === 'number' ? `${formatBytes(metadata.bytes)} (${metadata.bytes} bytes)` : null);
    add('Exposure', text(exif.exposureTime) ? `${text(exif.exposureTime)} s` : null);
    add('Aperture', text(exif.fNumber) ? `f/${text(exif.fNumber)}` : null);
    add('ISO', text(exif.iso));
    add('Focal length', text(exif.focalLength) ? `${text(exif.focalLength)} mm` : null);
    add('EXIF orientation', text(exif.orientation));
    add('GPS data in original', typeof exif.gpsPresent === 'boolean' ? (exif.gpsPresent ? 'yes' : 'no') : null);
    add('SHA-256', metadata.sha256 ? <code className="hash">{metadata.sha256}</code> : null);
    add('Blurhash', metadata.blurhash ? <code className="hash">{metadata.blurhash}</code> : null);
  }
  if (rows.length === 0) return null;
  return (
    <dl className="metadata" data-testid="metadata">
      {rows.map(([label, value]) => (
        <div key={label} className="metadata-row">
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}
