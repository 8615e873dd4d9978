import type { RefObject } from 'react';
import { hrefFor } from '../lib/route';

/** Shown in place of a view that needs an account. */
export function SignInPrompt({
  title,
  next,
  notice,
  headingRef,
}: {
  title: string;
  /** Where to come back to after signing in, e.g. "#/mine". */
  next: string | null;
  notice?: string | null;
  headingRef?: RefObject<HTMLHeadingElement | null>;
}) {
  return (
    <section className="signin-prompt" data-testid="signin-prompt" aria-labelledby="signin-prompt-heading">
      <h2 id="signin-prompt-heading" ref={headingRef} tabIndex={-1}>
        {title}
      </h2>
      {notice && (
        <p className="notice" data-testid="session-notice" role="status">
          {notice}
        </p>
      )}
      <p>
        <a className="button primary" data-testid="signin-link" href={hrefFor({ name: 'signin', mode: 'signin', next })}>
          Sign in
        </a>{' '}
        or{' '}
        <a data-testid="signup-link" href={hrefFor({ name: 'signin', mode: 'signup', next })}>
          create an account
        </a>{' '}
        to upload images and manage them.
      </p>
    </section>
  );
}
