"""srcdiff: how a C struct changed across the releases of a git repository.

Public surface: ``open`` (a repository, for the Python API of srcdiff.api: the commands'
answers as plain data), ``Repository``, the data model (``StructDef``, ``Field``) and
``SrcdiffError``, imported on first use so that ``import srcdiff`` and the command's fast path
(srcdiff.fast) start without loading git, pycparser or networkx.
"""

__version__ = "0.1.0"
__all__ = ["Field", "Repository", "SrcdiffError", "StructDef", "__version__", "open"]


def __getattr__(name: str):
    if name in ("open", "Repository"):
        from srcdiff import api

        return getattr(api, name)
    if name in ("Field", "StructDef"):
        from srcdiff import model

        return getattr(model, name)
    if name == "SrcdiffError":
        from srcdiff.errors import SrcdiffError

        return SrcdiffError
    raise AttributeError(name)
