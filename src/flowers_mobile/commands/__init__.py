"""CLI verbs: each module has `register(app)`; `flowers_mobile.cli` lists them."""
