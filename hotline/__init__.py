"""The ``hotline`` command line and process tools."""

import warnings

# eventlet 0.41 announces its own deprecation on import; nameko 2.14 needs it regardless.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
