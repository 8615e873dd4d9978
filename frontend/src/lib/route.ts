export type Route =
  | { name: 'upload' }
  | { name: 'gallery' }
  | { name: 'image'; imageId: string };

export function parseHash(hash: string): Route {
  const h = hash.replace(/^#/, '');
  if (h === '/gallery' || h === '/gallery/') return { name: 'gallery' };
  const m = /^\/image\/([^/?#]+)\/?$/.exec(h);
  if (m && m[1]) {
    try {
      return { name: 'image', imageId: decodeURIComponent(m[1]) };
    } catch {
      return { name: 'upload' };
    }
  }
  return { name: 'upload' };
}

export function hrefFor(route: Route): string {
  switch (route.name) {
    case 'upload':
      return '#/';
    case 'gallery':
      return '#/gallery';
    case 'image':
      return `#/image/${encodeURIComponent(route.imageId)}`;
  }
}
