"""srcdiff: how a C struct changed across the releases of a git repository.

Public surface: the data model (``StructDef``, ``Field``) and ``SrcdiffError``, imported on
first use so that the command's fast path (srcdiff.fast) starts without loading them.
"""

__version__ = "0.1.0"
__all__ = ["Field", "SrcdiffError", "StructDef", "__version__"]


def __getattr__(name: str):
    if name in ("Field", "StructDef"):
        from srcdiff import model

        return getattr(model, name)
    if name == "SrcdiffError":
        from srcdiff.errors import SrcdiffError

        return SrcdiffError
    raise AttributeError(name)
