"""Exports: TFLite (with metadata), Core ML, SavedModel, and the manifest that lists them."""
