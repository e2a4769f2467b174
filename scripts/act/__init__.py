"""`scripts/act-test`: run real workflows that use the action (``uses: ./``) under
nektos/act over podman's Docker API, with act's own artifact server, and check what they
did. Workflows in ``workflows/``, their checks in ``scenarios.py``."""
