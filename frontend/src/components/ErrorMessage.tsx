import { describeError } from '../lib/errors';

export function ErrorMessage({
  error,
  testId = 'error-message',
  friendly = true,
}: {
  error: { code?: string | null; message?: string | null; retryAfter?: number | null };
  testId?: string;
  /** Prepend a friendlier sentence for known codes (off when the message is already ours). */
  friendly?: boolean;
}) {
  const described = describeError(error);
  const summary = friendly ? described.summary : null;
  const detail = described.detail;
  return (
    <div className="error" data-testid={testId} role="alert">
      {summary && <p className="error-summary">{summary}</p>}
      <p className="error-detail">
        {summary ? 'Reason: ' : ''}
        {detail}
        {error.code ? <span className="error-code"> ({error.code})</span> : null}
      </p>
    </div>
  );
}
