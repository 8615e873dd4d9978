"""SnapQueue's typed client."""
