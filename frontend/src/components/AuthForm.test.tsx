import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { useState } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { FetchLike } from '../lib/api';
import { AuthClient, type StorageLike } from '../lib/auth';
import type { AuthMode } from '../lib/route';
import { AuthForm, fieldForError } from './AuthForm';

function json(status: number, body: unknown, headers: Record<string, string> = {}) {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });
}

const memory = (): StorageLike => {
  const m = new Map<string, string>();
  return { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => void m.set(k, v), removeItem: (k) => void m.delete(k) };
};

const TOKENS = { accessToken: 'at', idToken: 'id', refreshToken: 'rt', expiresIn: 3600, tokenType: 'Bearer' };

function setup(handler: FetchLike, initialMode: AuthMode = 'signin') {
  const fetch = vi.fn(handler);
  const auth = new AuthClient({ fetch, storage: memory(), storageEvents: null });
  const onSignedIn = vi.fn();
  function Harness() {
    const [mode, setMode] = useState<AuthMode>(initialMode);
    return <AuthForm auth={auth} mode={mode} onModeChange={setMode} onSignedIn={onSignedIn} />;
  }
  render(<Harness />);
  return { fetch, auth, onSignedIn };
}

async function submit(fields: { email?: string; password?: string; code?: string }) {
  if (fields.email !== undefined) fireEvent.change(screen.getByTestId('auth-email'), { target: { value: fields.email } });
  if (fields.password !== undefined) fireEvent.change(screen.getByTestId('auth-password'), { target: { value: fields.password } });
  if (fields.code !== undefined) fireEvent.change(screen.getByTestId('auth-code'), { target: { value: fields.code } });
  await act(async () => {
    fireEvent.click(screen.getByTestId('auth-submit'));
    for (let i = 0; i < 3; i++) await new Promise((r) => setTimeout(r, 0));
  });
}

afterEach(cleanup);

describe('fieldForError', () => {
  it('puts known codes under their field', () => {
    expect(fieldForError('user_exists', 'credentials')).toBe('email');
    expect(fieldForError('invalid_password', 'credentials')).toBe('password');
    expect(fieldForError('invalid_credentials', 'credentials')).toBe('password');
    expect(fieldForError('code_mismatch', 'confirm')).toBe('code');
    expect(fieldForError('invalid_request', 'confirm')).toBe('code');
    expect(fieldForError('rate_limited', 'credentials')).toBeNull();
  });
});

describe('AuthForm', () => {
  it('checks the fields before sending anything', async () => {
    const { fetch } = setup(async () => json(200, TOKENS));
    await submit({ email: '', password: '' });
    expect(screen.getByTestId('auth-email-error').textContent).toMatch(/Enter your e-mail/);
    expect(screen.getByTestId('auth-password-error').textContent).toMatch(/Enter your password/);
    expect(screen.getByTestId('auth-email').getAttribute('aria-invalid')).toBe('true');
    expect(screen.getByTestId('auth-email').getAttribute('aria-describedby')).toBe(screen.getByTestId('auth-email-error').id);
    expect(document.activeElement).toBe(screen.getByTestId('auth-email'));
    await submit({ email: 'not-an-address', password: 'x' });
    expect(screen.getByTestId('auth-email-error').textContent).toMatch(/not an e-mail address/);
    expect(fetch).not.toHaveBeenCalled();
  });

  it('shows a wrong password under the password field', async () => {
    const { onSignedIn } = setup(async () => json(401, { error: 'invalid_credentials', message: 'Incorrect username or password.' }));
    await submit({ email: 'ann@example.com', password: 'wrong' });
    const err = screen.getByTestId('auth-password-error');
    expect(err.getAttribute('role')).toBe('alert');
    expect(err.getAttribute('data-code')).toBe('invalid_credentials');
    expect(err.textContent).toContain('Incorrect username or password.');
    expect(err.textContent).toMatch(/e-mail address or the password is not right/);
    expect(onSignedIn).not.toHaveBeenCalled();
    // Typing again clears it.
    fireEvent.change(screen.getByTestId('auth-password'), { target: { value: 'again' } });
    expect(screen.queryByTestId('auth-password-error')).toBeNull();
  });

  it('sign-up: the password rule and an existing account are shown under their fields', async () => {
    const { fetch } = setup(async (_url, init) => {
      const b = JSON.parse(String(init?.body)) as { email: string };
      return b.email === 'taken@example.com'
        ? json(409, { error: 'user_exists', message: 'An account with this e-mail already exists.' })
        : json(422, { error: 'invalid_password', message: 'Passwords need at least 12 characters and a digit.' });
    }, 'signup');
    expect(screen.getByTestId('auth-form').getAttribute('data-mode')).toBe('signup');
    expect(screen.getByTestId('auth-password').getAttribute('autocomplete')).toBe('new-password');
    await submit({ email: 'ann@example.com', password: 'short' });
    expect(fetch.mock.calls[0]![0]).toBe('/api/auth/sign-up');
    expect(screen.getByTestId('auth-password-error').textContent).toContain('Passwords need at least 12 characters and a digit.');
    await submit({ email: 'taken@example.com', password: 'long enough 123' });
    expect(screen.getByTestId('auth-email-error').textContent).toContain('already exists');
    expect(screen.queryByTestId('auth-password-error')).toBeNull();
  });

  it('sign-up with a confirmation code, then signs in automatically', async () => {
    const { fetch, onSignedIn, auth } = setup(async (url, init) => {
      const b = JSON.parse(String(init?.body)) as Record<string, string>;
      if (url === '/api/auth/sign-up') return json(201, { userId: 'u1', confirmed: false });
      if (url === '/api/auth/confirm') {
        return b.code === '123456' ? json(200, {}) : json(400, { error: 'code_mismatch', message: 'Invalid verification code provided.' });
      }
      return json(200, TOKENS);
    }, 'signup');
    await submit({ email: 'ann@example.com', password: 'long enough 123' });
    expect(screen.getByTestId('auth-form').getAttribute('data-mode')).toBe('confirm');
    expect(screen.getByTestId('auth-info').textContent).toContain('ann@example.com');
    expect(document.activeElement).toBe(screen.getByTestId('auth-code'));
    await submit({ code: '000000' });
    expect(screen.getByTestId('auth-code-error').textContent).toContain('Invalid verification code provided.');
    await submit({ code: '123456' });
    expect(fetch.mock.calls.map((c) => c[0])).toEqual(['/api/auth/sign-up', '/api/auth/confirm', '/api/auth/confirm', '/api/auth/sign-in']);
    expect(JSON.parse(String(fetch.mock.calls[3]![1]?.body))).toEqual({ email: 'ann@example.com', password: 'long enough 123' });
    expect(onSignedIn).toHaveBeenCalledWith('ann@example.com');
    expect(auth.signedIn).toBe(true);
  });

  it('shows other errors (rate limit) for the whole form, and toggles between sign-in and sign-up', async () => {
    setup(async () => json(429, { error: 'rate_limited', message: 'Too many attempts' }, { 'Retry-After': '30' }));
    await submit({ email: 'ann@example.com', password: 'pw' });
    const err = screen.getByTestId('auth-error');
    expect(err.textContent).toContain('Too many attempts');
    expect(err.textContent).toContain('try again in 30 seconds');
    fireEvent.click(screen.getByTestId('auth-toggle'));
    expect(screen.getByTestId('auth-form').getAttribute('data-mode')).toBe('signup');
    expect(screen.queryByTestId('auth-error')).toBeNull();
    expect(screen.getByRole('heading', { name: 'Create an account' })).toBeTruthy();
  });
});
