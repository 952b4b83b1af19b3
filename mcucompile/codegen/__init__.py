"""C code generation through Jinja2 templates."""
