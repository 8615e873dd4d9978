import { describeError } from '../lib/errors';

export function ErrorMessage({ error, testId = 'error-message' }: { error: { code?: string | null; message?: string | null }; testId?: string }) {
  const { summary, detail } = describeError(error);
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
