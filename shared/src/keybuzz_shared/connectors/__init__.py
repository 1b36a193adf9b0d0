"""Marketplace connectors behind one seam (the ``seam`` package), chosen by ``marketplace``
(registry.py)."""
