"""Synthetic handwritten lines for the CRNN: sources, glyph rendering, line composition."""
