export type AuthMode = 'signin' | 'signup';

export type Route =
  | { name: 'upload' }
  | { name: 'gallery' }
  | { name: 'mine' }
  | { name: 'image'; imageId: string }
  /** The sign-in / sign-up form; `next` is the hash to go to afterwards (e.g. "#/mine"). */
  | { name: 'signin'; mode: AuthMode; next: string | null };

/** Routes that need a signed-in user. */
export function requiresAuth(route: Route): boolean {
  return route.name === 'upload' || route.name === 'mine';
}

function safeNext(value: string | null): string | null {
  if (!value) return null;
  // Only our own hash routes (no "javascript:", no other origin), and never back to the form.
  const next = value.startsWith('#') ? value : `#${value}`;
  if (!/^#\/[^\s]*$/.test(next)) return null;
  const target = parseHash(next);
  return target.name === 'signin' ? null : next;
}

export function parseHash(hash: string): Route {
  const h = hash.replace(/^#/, '');
  const [path = '', query = ''] = h.split('?', 2);
  if (path === '/gallery' || path === '/gallery/') return { name: 'gallery' };
  if (path === '/mine' || path === '/mine/') return { name: 'mine' };
  if (path === '/signin' || path === '/signin/' || path === '/signup' || path === '/signup/') {
    let next: string | null = null;
    try {
      next = safeNext(new URLSearchParams(query).get('next'));
    } catch {
      next = null;
    }
    return { name: 'signin', mode: path.startsWith('/signup') ? 'signup' : 'signin', next };
  }
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
    case 'mine':
      return '#/mine';
    case 'image':
      return `#/image/${encodeURIComponent(route.imageId)}`;
    case 'signin': {
      const base = route.mode === 'signup' ? '#/signup' : '#/signin';
      return route.next ? `${base}?next=${encodeURIComponent(route.next)}` : base;
    }
  }
}
