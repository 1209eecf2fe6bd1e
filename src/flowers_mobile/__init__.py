"""flowers-mobile: a flower photo folder to a classifier running live on a phone's camera."""

__version__ = "0.1.0"
