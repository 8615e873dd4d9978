"""``python -m snapqueue_client``: the ``snapqueue`` CLI."""

import sys

from snapqueue_client.cli import main

sys.exit(main())
