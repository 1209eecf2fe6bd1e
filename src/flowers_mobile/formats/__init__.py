"""The artifact contract on disk: the export manifest, TFLite facts and embedded labels, the
.mlpackage folder. Below both `export/` (the writers) and `runtimes/` (the readers); it imports
neither (tests/test_import_rules.py).
"""
