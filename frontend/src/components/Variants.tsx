import { VARIANT_NAMES, type Variants } from '../lib/types';
import { formatBytes } from '../lib/validate';

const LABEL: Record<string, string> = {
  thumbnail: 'Thumbnail',
  resized: 'Resized',
  grayscale: 'Grayscale',
};

export function VariantList({ variants, name }: { variants: Variants | null | undefined; name: string }) {
  if (!variants) return null;
  const present = VARIANT_NAMES.filter((v) => variants[v]);
  if (present.length === 0) return null;
  return (
    <ul className="variants" aria-label={`Processed versions of ${name}`}>
      {present.map((key) => {
        const v = variants[key]!;
        return (
          <li key={key} className="variant">
            <figure>
              <a href={v.url} target="_blank" rel="noopener noreferrer" className="variant-link">
                <img
                  data-testid={`variant-${key}`}
                  src={v.url}
                  alt={`${LABEL[key]} version of ${name}, ${v.width} by ${v.height} pixels`}
                  width={v.width}
                  height={v.height}
                  loading="lazy"
                  decoding="async"
                />
              </a>
              <figcaption>
                <strong>{LABEL[key]}</strong>
                <span>
                  {v.width}×{v.height} px · {formatBytes(v.bytes)}
                </span>
              </figcaption>
            </figure>
          </li>
        );
      })}
    </ul>
  );
}
