"""Container health probe: exit 0 when the service's ``/healthz`` answers 200, else 1.

Slim images carry no curl, so Docker's HEALTHCHECK, compose and ECS all run this with the
image's own Python. It reads the port the service listens on from ``SNAPQUEUE_HTTP_PORT``.
"""

from __future__ import annotations

import os
import sys
import urllib.request


def main() -> int:
    port = int(os.environ.get("SNAPQUEUE_HTTP_PORT", "8000"))
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return 0 if response.status == 200 else 1
    except OSError as exc:  # URLError and HTTPError (non-2xx) are OSErrors
        print(f"healthcheck: {url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
