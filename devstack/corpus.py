"""Where the shared test corpus lives: ``../shared/corpus`` beside the checkout.

``SNAPQUEUE_CORPUS_DIR`` points elsewhere. The corpus is never copied into the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

CORPUS = Path(
    os.environ.get(
        "SNAPQUEUE_CORPUS_DIR", Path(__file__).resolve().parents[2] / "shared" / "corpus"
    )
)
MANIFEST = CORPUS / "manifest.json"
ORIENTATION = CORPUS / "orientation"
