"""Sphinx configuration of the keypairs-ext documentation."""

project = "keypairs-ext"
copyright = "keypairs-ext authors"
extensions = ["sphinx.ext.autodoc"]
master_doc = "index"
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path = ["_static"]
nitpicky = False
