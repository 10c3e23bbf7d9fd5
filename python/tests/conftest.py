import os
import sys

# Tests run against the build tree (make test sets PYTHONPATH); fall back to it here too.
_build = os.path.join(os.path.dirname(__file__), "..", "..", "build", "python")
if os.path.isdir(_build) and _build not in sys.path:
    sys.path.insert(0, os.path.abspath(_build))
