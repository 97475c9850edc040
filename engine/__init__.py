"""fsorg engine: everything that is not the Qt app.

No module in this package may import Qt or ``fsorg_desktop`` (checked by
import-linter in the test run). Heavy libraries (torch, sentence-transformers,
setfit) are imported only inside the functions that need them, so that the CLI's
``--help`` and the desktop app's start stay fast.
"""

__version__ = "0.1.0"
