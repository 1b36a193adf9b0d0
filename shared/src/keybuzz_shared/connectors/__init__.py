"""Marketplace connectors behind one seam (seam.py), chosen by ``marketplace`` (registry.py)."""
