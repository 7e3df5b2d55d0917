"""srcdiff: how a C struct changed across the releases of a git repository.

Public surface: the data model (``StructDef``, ``Field``) and ``SrcdiffError``.
"""

from srcdiff.errors import SrcdiffError
from srcdiff.model import Field, StructDef

__version__ = "0.1.0"
__all__ = ["Field", "SrcdiffError", "StructDef", "__version__"]
