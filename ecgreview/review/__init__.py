"""The review stage: cases opened for reading, and what readers record about them."""
