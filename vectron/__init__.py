"""Vectron: a distributed vector database.

Embedded use::

    import vectron
    with vectron.open("./data") as store:
        col = store.create_collection("docs", dimension=384, distance="cosine")
"""

from vectron import errors

__all__ = ["errors"]
__version__ = "0.1.0"
